package training

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/topicd/topicd/classifier"
)

// Validation is a held-out measurement of a recipe.
type Validation struct {
	Dataset string
	// Calibration fitted for the (last) validation model.
	Calibration classifier.Calibration
	Report      Report
	// Long scores long documents made of 3 to 30 held-out rows of one label.
	Long *Report `json:",omitempty"`
	// AtMix re-weights Report's predictions to the label mixes of ReportMixes: the corpus' own
	// (a stream that is mostly the fallback label) and those of the hand-written probe sets.
	AtMix []MixReport `json:",omitempty"`
}

// Validate measures the recipe on held-out rows of exs as Recipe.Validation says: it trains with
// Recipe.Fit on the other rows and scores the held-out ones, and Recipe.Long long documents per
// label made of them. Training rows never include a validation row. It returns nil for "none";
// corpus names the data in Validation.Dataset.
func (r Recipe) Validate(ctx context.Context, exs []Example, corpus string) (*Validation, error) {
	spec := r.Validation
	kind, arg, _ := strings.Cut(spec, "=")
	dates := make([]string, len(exs))
	labels := make([]string, len(exs))
	ids := make([]string, len(exs))
	for i, ex := range exs {
		dates[i], labels[i], ids[i] = ex.Date, ex.Label, ex.ID
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
				return nil, fmt.Errorf("validation %q: want newest=FRACTION", spec)
			}
			frac = f
		}
		_, valid, err := SplitNewest(dates, labels, frac)
		if err != nil {
			return nil, fmt.Errorf("validation %q: %w", spec, err)
		}
		folds = [][]int{valid}
		desc = fmt.Sprintf("%s: newest %g%% of each label by date, %d rows (trained on the other %d)", corpus, 100*frac, len(valid), len(exs)-len(valid))
	case "date":
		_, valid := SplitByDate(dates, arg)
		if len(valid) == 0 || len(valid) == len(exs) {
			return nil, fmt.Errorf("validation %q: the cutoff leaves no training or no validation rows", spec)
		}
		folds = [][]int{valid}
		desc = fmt.Sprintf("%s: rows dated %s or later, %d rows (trained on the other %d)", corpus, arg, len(valid), len(exs)-len(valid))
	case "kfold":
		k, err := strconv.Atoi(arg)
		if err != nil {
			return nil, fmt.Errorf("validation %q: want kfold=K", spec)
		}
		if folds, err = KFold(ids, labels, k); err != nil {
			return nil, fmt.Errorf("validation %q: %w", spec, err)
		}
		desc = fmt.Sprintf("%s: %d-fold stratified cross-validation over %d rows", corpus, k, len(exs))
	default:
		return nil, fmt.Errorf("validation %q: want newest=F, date=YYYY-MM-DD, kfold=K or none", spec)
	}
	cfg := r.config()
	var preds, longPreds []Prediction
	var modelLabels []string
	var cal classifier.Calibration
	for _, held := range folds {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		m, err := r.Fit(pick(exs, FoldTraining(len(exs), held)), cfg)
		if err != nil {
			return nil, err
		}
		modelLabels = m.Labels()
		cal = m.Calibration()
		validEx := pick(exs, held)
		p, err := Predict(m, validEx)
		if err != nil {
			return nil, err
		}
		preds = append(preds, p...)
		if r.Long > 0 {
			lp, err := Predict(m, LongDocuments(validEx, modelLabels, r.Long))
			if err != nil {
				return nil, err
			}
			longPreds = append(longPreds, lp...)
		}
	}
	v := &Validation{Report: Evaluate(modelLabels, preds), Calibration: cal}
	corpusMix := map[string]float64{}
	for _, l := range labels {
		corpusMix[l] += 1 / float64(len(labels))
	}
	for _, rm := range ReportMixes {
		mix := rm.Mix
		if mix == nil {
			mix = corpusMix
		}
		if !sameLabels(mix, modelLabels) {
			continue
		}
		v.AtMix = append(v.AtMix, EvaluateAtMix(rm.Name, modelLabels, preds, mix))
	}
	if len(longPreds) > 0 {
		lr := Evaluate(modelLabels, longPreds)
		v.Long = &lr
		desc += fmt.Sprintf("; %d long documents of 3-30 held-out rows: accuracy %.3f, macro-F1 %.3f, ECE %.3f", lr.Documents, lr.Accuracy, lr.MacroF1, lr.ExpectedCalibrationError)
	}
	v.Dataset = desc
	return v, nil
}

// pick returns the examples at the indices idx.
func pick(exs []Example, idx []int) []Example {
	out := make([]Example, len(idx))
	for i, j := range idx {
		out[i] = exs[j]
	}
	return out
}

// sameLabels reports whether mix names exactly the labels.
func sameLabels(mix map[string]float64, labels []string) bool {
	if len(mix) != len(labels) {
		return false
	}
	for _, l := range labels {
		if _, ok := mix[l]; !ok {
			return false
		}
	}
	return true
}
