package training

import (
	"slices"
	"testing"
)

func TestSplitByDate(t *testing.T) {
	dates := []string{"2022-12-31", "2023-01-01", "", "2024-06-01", "2010-01-01"}
	train, valid := SplitByDate(dates, "2023-01-01")
	if want := []int{0, 2, 4}; !slices.Equal(train, want) {
		t.Errorf("train = %v, want %v", train, want)
	}
	if want := []int{1, 3}; !slices.Equal(valid, want) {
		t.Errorf("valid = %v, want %v", valid, want)
	}
}

func TestSplitNewest(t *testing.T) {
	// Label a: 5 rows, newest 40% = 2 rows (indices 4 and 1, dated 2021 and 2020).
	// Label b: 2 rows, 40% rounds to 1: the newer one, index 5.
	// Label c: 1 row: too few to hold out, it trains.
	dates := []string{"2001", "2020", "2002", "2003", "2021", "2024", "2023", "2024"}
	labels := []string{"a", "a", "a", "a", "a", "b", "b", "c"}
	train, valid, err := SplitNewest(dates, labels, 0.4)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{0, 2, 3, 6, 7}; !slices.Equal(train, want) {
		t.Errorf("train = %v, want %v", train, want)
	}
	if want := []int{1, 4, 5}; !slices.Equal(valid, want) {
		t.Errorf("valid = %v, want %v", valid, want)
	}
	for _, f := range []float64{0, 1, -0.1} {
		if _, _, err := SplitNewest(dates, labels, f); err == nil {
			t.Errorf("SplitNewest(fraction %v) = nil error, want one", f)
		}
	}
}

func TestKFold(t *testing.T) {
	var ids, labels []string
	for i := range 23 {
		ids = append(ids, string(rune('A'+i)))
		labels = append(labels, []string{"x", "x", "x", "y", "z"}[i%5])
	}
	folds, err := KFold(ids, labels, 4)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]int{}
	for f, rows := range folds {
		perLabel := map[string]int{}
		for _, i := range rows {
			seen[i]++
			perLabel[labels[i]]++
		}
		// 14 x, 5 y, 4 z over 4 folds: each fold gets 3 or 4 x, 1 or 2 y, 1 z.
		if perLabel["x"] < 3 || perLabel["x"] > 4 || perLabel["y"] < 1 || perLabel["y"] > 2 || perLabel["z"] != 1 {
			t.Errorf("fold %d label counts = %v, want stratified", f, perLabel)
		}
		if !slices.IsSorted(rows) {
			t.Errorf("fold %d = %v, want sorted", f, rows)
		}
		train := FoldTraining(len(ids), rows)
		if len(train)+len(rows) != len(ids) {
			t.Errorf("fold %d: %d train + %d held != %d", f, len(train), len(rows), len(ids))
		}
	}
	if len(seen) != len(ids) {
		t.Errorf("folds cover %d rows, want %d", len(seen), len(ids))
	}
	for i, n := range seen {
		if n != 1 {
			t.Errorf("row %d is in %d folds, want 1", i, n)
		}
	}
	// Reordering the corpus moves no row to another fold.
	rev := slices.Clone(ids)
	revLabels := slices.Clone(labels)
	slices.Reverse(rev)
	slices.Reverse(revLabels)
	again, err := KFold(rev, revLabels, 4)
	if err != nil {
		t.Fatal(err)
	}
	foldOf := map[string]int{}
	for f, rows := range folds {
		for _, i := range rows {
			foldOf[ids[i]] = f
		}
	}
	for f, rows := range again {
		for _, i := range rows {
			if foldOf[rev[i]] != f {
				t.Errorf("id %s in fold %d after reordering, want %d", rev[i], f, foldOf[rev[i]])
			}
		}
	}
	if _, err := KFold(ids, labels, 1); err == nil {
		t.Error("KFold(k=1) = nil error, want one")
	}
}

func TestSplitNewestExamples(t *testing.T) {
	exs := []Example{
		{ID: "a", Date: "2020-01-03", Label: "x"},
		{ID: "b", Date: "2020-01-01", Label: "x"},
		{ID: "c", Date: "2020-01-02", Label: "y"},
		{ID: "d", Date: "2020-01-05", Label: "y"},
		{ID: "e", Date: "2020-01-04", Label: "x"},
	}
	train, valid, err := SplitNewestExamples(exs, 0.3)
	if err != nil {
		t.Fatal(err)
	}
	ids := func(es []Example) (out []string) {
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	// The newest of each label validates (e of x, d of y); both halves keep input order.
	if got, want := ids(train), []string{"a", "b", "c"}; !slices.Equal(got, want) {
		t.Errorf("train %v, want %v", got, want)
	}
	if got, want := ids(valid), []string{"d", "e"}; !slices.Equal(got, want) {
		t.Errorf("valid %v, want %v", got, want)
	}
	if _, _, err := SplitNewestExamples(exs, 1); err == nil {
		t.Error("fraction 1: no error")
	}
}
