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
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/topicd/topicd/classifier"
	"github.com/topicd/topicd/report"
)

// validation is a held-out measurement of training settings.
type validation struct {
	Dataset string
	// Calibration fitted for the (last) validation model.
	Calibration classifier.Calibration
	Report      classifier.Report
	// Long scores long documents made of 3 to 30 held-out rows of one label.
	Long *classifier.Report `json:",omitempty"`
}

// runValidation measures the settings on held-out rows as spec says (see `topicctl train
// --validate`); it returns nil for "none". Training rows never include a validation row.
func runValidation(ctx context.Context, exs []classifier.Example, s *trainSettings, cfg classifier.TrainConfig, spec, corpus string) (*validation, error) {
	kind, arg, _ := strings.Cut(spec, "=")
	dates := make([]string, len(exs))
	labels := make([]string, len(exs))
	ids := make([]string, len(exs))
	for i, ex := range exs {
		dates[i], labels[i], ids[i] = ex.Date, ex.Label, ex.ID
	}
	pick := func(idx []int) []classifier.Example {
		out := make([]classifier.Example, len(idx))
		for i, j := range idx {
			out[i] = exs[j]
		}
		return out
	}
	var folds [][]int // held-out rows of each round
	var desc string
	switch kind {
	case "none":
		return nil, nil
	case "newest":
		frac := 0.2
		if arg != "" {
			f, err := strconv.ParseFloat(arg, 64)
			if err != nil {
				return nil, fmt.Errorf("--validate %q: want newest=FRACTION", spec)
			}
			frac = f
		}
		_, valid, err := classifier.SplitNewest(dates, labels, frac)
		if err != nil {
			return nil, fmt.Errorf("--validate %q: %w", spec, err)
		}
		folds = [][]int{valid}
		desc = fmt.Sprintf("%s: newest %g%% of each label by date, %d rows (trained on the other %d)", corpus, 100*frac, len(valid), len(exs)-len(valid))
	case "date":
		_, valid := classifier.SplitByDate(dates, arg)
		if len(valid) == 0 || len(valid) == len(exs) {
			return nil, fmt.Errorf("--validate %q: the cutoff leaves no training or no validation rows", spec)
		}
		folds = [][]int{valid}
		desc = fmt.Sprintf("%s: rows dated %s or later, %d rows (trained on the other %d)", corpus, arg, len(valid), len(exs)-len(valid))
	case "kfold":
		k, err := strconv.Atoi(arg)
		if err != nil {
			return nil, fmt.Errorf("--validate %q: want kfold=K", spec)
		}
		if folds, err = classifier.KFold(ids, labels, k); err != nil {
			return nil, fmt.Errorf("--validate %q: %w", spec, err)
		}
		desc = fmt.Sprintf("%s: %d-fold stratified cross-validation over %d rows", corpus, k, len(exs))
	default:
		return nil, fmt.Errorf("--validate %q: want newest=F, date=YYYY-MM-DD, kfold=K or none", spec)
	}
	var preds, longPreds []classifier.Prediction
	var modelLabels []string
	var cal classifier.Calibration
	for _, held := range folds {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		m, err := s.fit(pick(classifier.FoldTraining(len(exs), held)), cfg)
		if err != nil {
			return nil, err
		}
		modelLabels = m.Labels()
		cal = m.Calibration()
		validEx := pick(held)
		p, err := classifier.Predict(m, validEx)
		if err != nil {
			return nil, err
		}
		preds = append(preds, p...)
		if s.longDocs > 0 {
			lp, err := classifier.Predict(m, classifier.LongDocuments(validEx, modelLabels, s.longDocs))
			if err != nil {
				return nil, err
			}
			longPreds = append(longPreds, lp...)
		}
	}
	v := &validation{Report: classifier.Evaluate(modelLabels, preds), Calibration: cal}
	if len(longPreds) > 0 {
		lr := classifier.Evaluate(modelLabels, longPreds)
		v.Long = &lr
		desc += fmt.Sprintf("; %d long documents of 3-30 held-out rows: accuracy %.3f, macro-F1 %.3f, ECE %.3f", lr.Documents, lr.Accuracy, lr.MacroF1, lr.ExpectedCalibrationError)
	}
	v.Dataset = desc
	return v, nil
}

func printValidation(w io.Writer, v *validation) {
	fmt.Fprintf(w, "validation: %s\n", v.Dataset)
	c := v.Calibration
	fmt.Fprintf(w, "calibration (fitted on out-of-fold training rows): %s\n", describeCalibration(c))
	printReport(w, v.Report)
	if v.Long != nil {
		fmt.Fprintln(w, "\nlong documents:")
		printReport(w, *v.Long)
	}
	fmt.Fprintln(w)
}

// printReport writes a report as aligned tables: summary, per-label metrics, confusion matrix,
// reliability table.
func printReport(w io.Writer, r classifier.Report) {
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
	Report  classifier.Report
	Long    *classifier.Report `json:",omitempty"`
	// LongBySize splits Long by how many rows each long document joins.
	LongBySize []sizeGroup `json:",omitempty"`
}

// sizeGroup is how the long documents of one size range fared.
type sizeGroup struct {
	MinParts, MaxParts       int
	Documents                int
	Accuracy                 float64
	MeanConfidence           float64
	ExpectedCalibrationError float64
}

// sizeGroups are the ranges LongBySize reports: short, middling and article-length joins.
var sizeGroups = [][2]int{{3, 10}, {11, 20}, {21, 30}}

// bySize scores long documents in sizeGroups; preds[i] is the prediction for long[i].
func bySize(labels []string, long []classifier.Example, preds []classifier.Prediction) []sizeGroup {
	var out []sizeGroup
	for _, g := range sizeGroups {
		var sel []classifier.Prediction
		var conf float64
		for i, ex := range long {
			if n, ok := classifier.LongDocumentParts(ex.ID); ok && n >= g[0] && n <= g[1] {
				sel = append(sel, preds[i])
				conf += preds[i].Confidence
			}
		}
		if len(sel) == 0 {
			continue
		}
		r := classifier.Evaluate(labels, sel)
		out = append(out, sizeGroup{MinParts: g[0], MaxParts: g[1], Documents: len(sel), Accuracy: r.Accuracy,
			MeanConfidence: conf / float64(len(sel)), ExpectedCalibrationError: r.ExpectedCalibrationError})
	}
	return out
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
	var mix labelMixFlag
	fs.Var(&mix, "label-mix", labelMixUsage+"; scores under that mix")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: topicctl eval --model MODEL --data FILE.jsonl [--json] [--plot FILE.png] [--long N]")
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
	exs, _, err := classifier.ReadCorpusFile(*data)
	if err != nil {
		return fmt.Errorf("eval: read data: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	out := evalOutput{Model: *modelPath, Version: m.Version(), Data: *data}
	opts := classifier.Options{LabelMix: mix}
	preds, err := classifier.PredictWith(m, exs, opts)
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	out.Report = classifier.Evaluate(m.Labels(), preds)
	if *long > 0 {
		docs := classifier.LongDocuments(exs, m.Labels(), *long)
		longPreds, err := classifier.PredictWith(m, docs, opts)
		if err != nil {
			return fmt.Errorf("eval: %w", err)
		}
		lr := classifier.Evaluate(m.Labels(), longPreds)
		out.Long = &lr
		out.LongBySize = bySize(m.Labels(), docs, longPreds)
	}
	if *plotPath != "" {
		title := fmt.Sprintf("%s (version %s) on %s", filepath.Base(*modelPath), m.Version(), filepath.Base(*data))
		if err := writePlot(*plotPath, out.Report, title); err != nil {
			return fmt.Errorf("eval: %w", err)
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
	if *showErrors > 0 {
		printErrors(stdout, exs, preds, *showErrors)
	}
	if *plotPath != "" {
		fmt.Fprintf(stdout, "\nwrote %s\n", *plotPath)
	}
	return nil
}

// printErrors lists the n most confident mistakes: the documents whose labels most deserve a
// second look, in the corpus or in the model.
func printErrors(w io.Writer, exs []classifier.Example, preds []classifier.Prediction, n int) {
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

func writePlot(path string, r classifier.Report, title string) error {
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
