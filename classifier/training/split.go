package training

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
)

// Splits work on row indices so that they apply to any corpus representation: callers pass one
// entry per row (date, label or id) and get back indices into those slices. Every function is
// deterministic: the same input gives the same split, which keeps `topicctl train` reproducible.

// SplitByDate puts rows dated before cutoff (an ISO date, "2023-01-01") in train and the rest in
// valid. Rows with an empty date train. Dates compare as strings, so they must share one ISO
// format.
//
// On the news-topics corpus a single cutoff is a trap: diplomacy and other stop in 2021, so rows
// from 2023 on are all cybersecurity or migration. SplitNewest is the split to use there.
func SplitByDate(dates []string, cutoff string) (train, valid []int) {
	for i, d := range dates {
		if d != "" && d >= cutoff {
			valid = append(valid, i)
		} else {
			train = append(train, i)
		}
	}
	return train, valid
}

// SplitNewest holds out, for every label separately, the newest fraction of that label's rows
// (at least one row when the label has two or more). Validation therefore comes from later years
// than the training rows of the same label, as a date split intends, while every label
// is represented even when the labels' date ranges differ. Ties on date are broken by row order.
func SplitNewest(dates, labels []string, fraction float64) (train, valid []int, err error) {
	if len(dates) != len(labels) {
		return nil, nil, fmt.Errorf("split: %d dates but %d labels", len(dates), len(labels))
	}
	if fraction <= 0 || fraction >= 1 {
		return nil, nil, fmt.Errorf("split: fraction %v out of range (0, 1)", fraction)
	}
	byLabel := map[string][]int{}
	for i, l := range labels {
		byLabel[l] = append(byLabel[l], i)
	}
	held := make([]bool, len(labels))
	for _, rows := range byLabel {
		slices.SortStableFunc(rows, func(a, b int) int { return cmp.Compare(dates[a], dates[b]) })
		n := int(float64(len(rows))*fraction + 0.5)
		if n == 0 && len(rows) > 1 {
			n = 1
		}
		for _, i := range rows[len(rows)-n:] {
			held[i] = true
		}
	}
	for i, h := range held {
		if h {
			valid = append(valid, i)
		} else {
			train = append(train, i)
		}
	}
	return train, valid, nil
}

// SplitNewestExamples is SplitNewest over examples, by their Date and Label: the training and
// the validation examples, each in input order.
func SplitNewestExamples(exs []Example, fraction float64) (train, valid []Example, err error) {
	dates := make([]string, len(exs))
	labels := make([]string, len(exs))
	for i, ex := range exs {
		dates[i], labels[i] = ex.Date, ex.Label
	}
	tr, va, err := SplitNewest(dates, labels, fraction)
	if err != nil {
		return nil, nil, err
	}
	pick := func(idx []int) []Example {
		out := make([]Example, len(idx))
		for i, j := range idx {
			out[i] = exs[j]
		}
		return out
	}
	return pick(tr), pick(va), nil
}

// KFold splits rows into k stratified folds and returns, for each fold, the indices it holds out
// (in ascending order); fold f trains on every row not in folds[f]. Within each label, rows are
// ordered by a hash of their id and dealt round-robin, so every fold gets its share of each label
// and the assignment does not depend on the corpus order.
func KFold(ids, labels []string, k int) ([][]int, error) {
	if len(ids) != len(labels) {
		return nil, fmt.Errorf("k-fold: %d ids but %d labels", len(ids), len(labels))
	}
	if k < 2 || k > len(ids) {
		return nil, fmt.Errorf("k-fold: k = %d, want 2 to the number of rows (%d)", k, len(ids))
	}
	byLabel := map[string][]int{}
	for i, l := range labels {
		byLabel[l] = append(byLabel[l], i)
	}
	keys := make([]uint64, len(ids))
	for i, id := range ids {
		h := fnv.New64a()
		h.Write([]byte(id))
		keys[i] = h.Sum64()
	}
	folds := make([][]int, k)
	names := slices.Sorted(maps.Keys(byLabel))
	next := 0 // carries on across labels so small labels do not all start in fold 0
	for _, l := range names {
		rows := byLabel[l]
		slices.SortFunc(rows, func(a, b int) int {
			return cmp.Or(cmp.Compare(keys[a], keys[b]), cmp.Compare(a, b))
		})
		for _, i := range rows {
			folds[next] = append(folds[next], i)
			next = (next + 1) % k
		}
	}
	for _, f := range folds {
		slices.Sort(f)
	}
	return folds, nil
}

// FoldTraining returns the indices in [0, n) that are not in held (which must be sorted): the
// training rows of a fold.
func FoldTraining(n int, held []int) []int {
	out := make([]int, 0, n-len(held))
	j := 0
	for i := range n {
		if j < len(held) && held[j] == i {
			j++
			continue
		}
		out = append(out, i)
	}
	return out
}
