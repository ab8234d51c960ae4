package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/topicd/topicd/classifier"
	"github.com/topicd/topicd/classifier/training"
	"github.com/topicd/topicd/report"
)

func printValidation(w io.Writer, v *training.Validation) {
	fmt.Fprintf(w, "validation: %s\n", v.Dataset)
	c := v.Calibration
	fmt.Fprintf(w, "calibration (fitted on out-of-fold training rows): %s\n", describeCalibration(c))
	printReport(w, v.Report)
	if v.Long != nil {
		fmt.Fprintln(w, "\nlong documents:")
		printReport(w, *v.Long)
	}
	if len(v.AtMix) > 0 {
		fmt.Fprintln(w, "\nthe held-out rows re-weighted to other label mixes (recall as measured; precision, accuracy and ECE as a stream so mixed would see them):")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprint(tw, "mix\taccuracy\tmacro-F1\tECE\t")
		for _, m := range v.AtMix[0].Labels {
			fmt.Fprintf(tw, "%s P/R\t", m.Label)
		}
		fmt.Fprintln(tw)
		for _, r := range v.AtMix {
			fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%.3f\t", r.Name, r.Accuracy, r.MacroF1, r.ExpectedCalibrationError)
			for _, m := range r.Labels {
				fmt.Fprintf(tw, "%.2f/%.2f\t", m.Precision, m.Recall)
			}
			fmt.Fprintln(tw)
		}
		tw.Flush()
	}
	fmt.Fprintln(w)
}

// printReport writes a report as aligned tables: summary, per-label metrics, confusion matrix,
// reliability table.
func printReport(w io.Writer, r training.Report) {
	fmt.Fprintf(w, "documents %d  accuracy %.3f  macro-F1 %.3f  ECE %.3f\n\n", r.Documents, r.Accuracy, r.MacroF1, r.ExpectedCalibrationError)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "label\tprecision\trecall\tF1\tsupport\t")
	for _, m := range r.Labels {
		fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%.3f\t%d\t\n", m.Label, m.Precision, m.Recall, m.F1, m.Support)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nconfusion matrix (rows: true label, columns: predicted)")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "\t")
	for _, m := range r.Labels {
		fmt.Fprintf(tw, "%s\t", m.Label)
	}
	fmt.Fprintln(tw)
	for i, row := range r.Confusion {
		fmt.Fprintf(tw, "%s\t", r.Labels[i].Label)
		for _, n := range row {
			fmt.Fprintf(tw, "%d\t", n)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nreliability (top-label confidence bins)")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "confidence\tdocuments\tmean confidence\taccuracy\tgap\t")
	for _, b := range r.Reliability {
		if b.Count == 0 {
			fmt.Fprintf(tw, "%.1f-%.1f\t0\t\t\t\t\n", b.Lower, b.Upper)
			continue
		}
		fmt.Fprintf(tw, "%.1f-%.1f\t%d\t%.3f\t%.3f\t%+.3f\t\n", b.Lower, b.Upper, b.Count, b.MeanConfidence, b.Accuracy, b.Accuracy-b.MeanConfidence)
	}
	tw.Flush()
}

// evalOutput is what `topicctl eval --json` prints.
type evalOutput struct {
	Model   string
	Version string
	Data    string
	Report  training.Report
	Long    *training.Report `json:",omitempty"`
	// LongBySize splits Long by how many rows each long document joins.
	LongBySize []training.SizeGroup `json:",omitempty"`
	// Topics scores the rows that list their topics (a `topics` field), when any do.
	Topics *training.TopicReport `json:",omitempty"`
}

func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	modelPath := fs.String("model", "", "model file (required)")
	data := fs.String("data", "", "labelled documents, JSONL with fields text and label (required)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	plotPath := fs.String("plot", "", "also draw the confusion matrix and reliability diagram into this PNG `file`")
	long := fs.Int("long", 0, "also score N long documents per label, each 3-30 rows of one label joined")
	showErrors := fs.Int("errors", 0, "also list up to N misclassified documents, most confident first")
	topicThreshold := fs.Float64("topic-threshold", 0, "score topics as present at probability `p` (0: the model's threshold for each topic)")
	var mix labelMixFlag
	fs.Var(&mix, "label-mix", labelMixUsage+"; scores under that mix")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: topicctl eval --model MODEL --data FILE.jsonl [--json] [--plot FILE.png] [--long N]")
		fmt.Fprintln(stderr, "\nRows with a `topics` list are also scored on topics: per-topic precision, recall, F1 and ECE,\nmacro-F1, exact topic set and Hamming loss; --plot then also draws the per-topic reliability\ninto FILE-topics.png.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *modelPath == "" || *data == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("eval: --model and --data are required")
	}
	if *long < 0 {
		return fmt.Errorf("eval: --long %d: want 0 or more", *long)
	}
	raw, err := os.ReadFile(*modelPath)
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	m, err := classifier.Load(raw)
	if err != nil {
		return fmt.Errorf("eval: load model %s: %w", *modelPath, err)
	}
	exs, _, err := training.ReadCorpusFile(*data)
	if err != nil {
		return fmt.Errorf("eval: read data: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	out := evalOutput{Model: *modelPath, Version: m.Version(), Data: *data}
	opts := classifier.Options{LabelMix: mix, TopicThreshold: *topicThreshold}
	if _, err := m.PrepareOptions(opts); err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	preds, err := training.PredictWith(m, exs, opts)
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	out.Report = training.Evaluate(m.Labels(), preds)
	if *long > 0 {
		docs := training.LongDocuments(exs, m.Labels(), *long)
		longPreds, err := training.PredictWith(m, docs, opts)
		if err != nil {
			return fmt.Errorf("eval: %w", err)
		}
		lr := training.Evaluate(m.Labels(), longPreds)
		out.Long = &lr
		out.LongBySize = training.LongBySize(m.Labels(), docs, longPreds)
	}
	var topicRows []training.Example
	for _, ex := range exs {
		if ex.Topics != nil {
			topicRows = append(topicRows, ex)
		}
	}
	if len(topicRows) > 0 {
		tp, err := training.PredictTopics(m, topicRows, opts)
		if err != nil {
			return fmt.Errorf("eval: %w", err)
		}
		tr, err := training.EvaluateTopics(m.Topics(), tp)
		if err != nil {
			return fmt.Errorf("eval: %w", err)
		}
		out.Topics = &tr
	}
	topicPlot := strings.TrimSuffix(*plotPath, filepath.Ext(*plotPath)) + "-topics.png"
	if *plotPath != "" {
		title := fmt.Sprintf("%s (version %s) on %s", filepath.Base(*modelPath), m.Version(), filepath.Base(*data))
		if err := writePlot(*plotPath, out.Report, title); err != nil {
			return fmt.Errorf("eval: %w", err)
		}
		if out.Topics != nil {
			if err := writeTopicsPlot(topicPlot, *out.Topics, title); err != nil {
				return fmt.Errorf("eval: %w", err)
			}
		}
	}
	if *asJSON {
		return writeJSON(stdout, out)
	}
	fmt.Fprintf(stdout, "model %s (version %s) on %s\n", *modelPath, out.Version, *data)
	printReport(stdout, out.Report)
	if out.Long != nil {
		fmt.Fprintf(stdout, "\nlong documents (%d per label, 3-30 rows of one label joined):\n", *long)
		printReport(stdout, *out.Long)
		fmt.Fprintln(stdout, "\nlong documents by rows joined")
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "rows\tdocuments\taccuracy\tmean confidence\tECE\t")
		for _, g := range out.LongBySize {
			fmt.Fprintf(tw, "%d-%d\t%d\t%.3f\t%.3f\t%.3f\t\n", g.MinParts, g.MaxParts, g.Documents, g.Accuracy, g.MeanConfidence, g.ExpectedCalibrationError)
		}
		tw.Flush()
	}
	if out.Topics != nil {
		fmt.Fprintf(stdout, "\ntopics (%d rows that list their topics):\n", out.Topics.Documents)
		printTopicReport(stdout, *out.Topics)
	}
	if *showErrors > 0 {
		printErrors(stdout, exs, preds, *showErrors)
	}
	if *plotPath != "" {
		fmt.Fprintf(stdout, "\nwrote %s\n", *plotPath)
		if out.Topics != nil {
			fmt.Fprintf(stdout, "wrote %s\n", topicPlot)
		}
	}
	return nil
}

// printTopicReport writes a multi-topic evaluation: summary, per-topic metrics, and each topic's
// reliability table.
func printTopicReport(w io.Writer, r training.TopicReport) {
	fmt.Fprintf(w, "documents %d  macro-F1 %.3f  exact topic set %.3f  Hamming loss %.3f  extra topic on %d single-topic documents %.3f  ECE mean %.3f max %.3f\n\n",
		r.Documents, r.MacroF1, r.ExactMatch, r.HammingLoss, r.SingleTopic, r.ExtraTopic, r.MeanECE, r.MaxECE)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "topic\tprecision\trecall\tF1\tECE\tsupport\t")
	for _, t := range r.Topics {
		fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%.3f\t%.3f\t%d\t\n", t.Topic, t.Precision, t.Recall, t.F1, t.ECE, t.Support)
	}
	tw.Flush()
	for _, t := range r.Topics {
		fmt.Fprintf(w, "\nreliability of %s (share of documents about it per probability bin)\n", t.Topic)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "probability\tdocuments\tmean probability\tabout it\tgap\t")
		for _, b := range t.Reliability {
			if b.Count == 0 {
				fmt.Fprintf(tw, "%.1f-%.1f\t0\t\t\t\t\n", b.Lower, b.Upper)
				continue
			}
			fmt.Fprintf(tw, "%.1f-%.1f\t%d\t%.3f\t%.3f\t%+.3f\t\n", b.Lower, b.Upper, b.Count, b.MeanConfidence, b.Accuracy, b.Accuracy-b.MeanConfidence)
		}
		tw.Flush()
	}
}

func writeTopicsPlot(path string, r training.TopicReport, title string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := report.WriteTopicsPNG(f, r, title); err != nil {
		f.Close()
		return fmt.Errorf("plot: %w", err)
	}
	return f.Close()
}

// printErrors lists the n most confident mistakes: the documents whose labels most deserve a
// second look, in the corpus or in the model.
func printErrors(w io.Writer, exs []training.Example, preds []training.Prediction, n int) {
	var wrong []int
	for i, p := range preds {
		if p.Label != p.Predicted {
			wrong = append(wrong, i)
		}
	}
	slices.SortStableFunc(wrong, func(a, b int) int { return cmp.Compare(preds[b].Confidence, preds[a].Confidence) })
	fmt.Fprintf(w, "\nmost confident errors (%d of %d):\n", min(n, len(wrong)), len(wrong))
	for _, i := range wrong[:min(n, len(wrong))] {
		text := strings.Join(strings.Fields(exs[i].Text), " ")
		if r := []rune(text); len(r) > 160 {
			text = string(r[:160]) + "..."
		}
		fmt.Fprintf(w, "  %s: %s -> %s %.2f  %s\n", exs[i].ID, preds[i].Label, preds[i].Predicted, preds[i].Confidence, text)
	}
}

func writePlot(path string, r training.Report, title string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := report.WritePNG(f, r, title); err != nil {
		f.Close()
		return fmt.Errorf("plot: %w", err)
	}
	return f.Close()
}
