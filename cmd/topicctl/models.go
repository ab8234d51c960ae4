package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"google.golang.org/protobuf/encoding/protojson"

	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// runModels lists the models a server holds.
func runModels(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("models", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var conn connFlags
	conn.register(fs)
	asJSON := fs.Bool("json", false, "print the API's ListModelsResponse as JSON")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: topicctl models [flags]\n\nLists the models a server holds, the default first.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("models takes no arguments, got %q", fs.Args())
	}
	c, err := conn.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	models, err := c.ListModels(ctx)
	if err != nil {
		return fmt.Errorf("list models on %s: %w", conn.server, err)
	}
	if *asJSON {
		b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(&topicdv1.ListModelsResponse{Models: models})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	return printModels(stdout, models)
}

func printModels(w io.Writer, models []*topicdv1.ModelInfo) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSION\tDEFAULT\tLABELS\tVOCABULARY\tTRAINING DOCS\tEVALUATION\tLOAD ERROR")
	for _, m := range models {
		def := ""
		if m.GetDefault() {
			def = "yes"
		}
		var docs uint64
		for _, n := range m.GetTrainingDocuments() {
			docs += n
		}
		eval := "-"
		if e := m.GetEvaluation(); e != nil {
			eval = fmt.Sprintf("macro-F1 %.3f, accuracy %.3f, ECE %.3f on %d docs", e.GetMacroF1(), e.GetAccuracy(), e.GetExpectedCalibrationError(), e.GetDocuments())
		}
		loadErr := "-"
		if m.GetLoadError() != "" {
			loadErr = m.GetLoadError()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", m.GetName(), m.GetVersion(), def,
			strings.Join(m.GetLabels(), ","), m.GetVocabularySize(), docs, eval, loadErr)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// Per-label training counts and scores do not fit the table; list them below it.
	for _, m := range models {
		fmt.Fprintf(w, "\n%s: training documents per label:", m.GetName())
		labels := slices.Sorted(maps.Keys(m.GetTrainingDocuments()))
		for _, l := range labels {
			fmt.Fprintf(w, " %s %d", l, m.GetTrainingDocuments()[l])
		}
		fmt.Fprintln(w)
		if mix := m.GetLabelMix(); len(mix) > 0 {
			// In the model's label order, as --label-mix would take it.
			fmt.Fprint(w, "  label mix its confidences assume (--label-mix to change it):")
			for _, l := range m.GetLabels() {
				fmt.Fprintf(w, " %s=%.3f", l, mix[l])
			}
			fmt.Fprintln(w)
		}
		if th := m.GetTopicThresholds(); len(th) > 0 {
			fmt.Fprint(w, "  topic thresholds (a topic is present at this probability; --topic-threshold to change it):")
			for _, l := range m.GetLabels() {
				if p, ok := th[l]; ok {
					fmt.Fprintf(w, " %s=%.3f", l, p)
				}
			}
			fmt.Fprintln(w)
		}
		if e := m.GetEvaluation(); e != nil {
			fmt.Fprintf(w, "  evaluated on %s:", e.GetDataset())
			for _, lm := range e.GetLabels() {
				fmt.Fprintf(w, " %s P %.2f R %.2f F1 %.2f;", lm.GetLabel(), lm.GetPrecision(), lm.GetRecall(), lm.GetF1())
			}
			fmt.Fprintln(w)
		}
	}
	return nil
}
