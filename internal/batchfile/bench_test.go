package batchfile

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"testing"
)

// csvInput is 10,000 rows like a news export: an id, a quoted text with commas, a title.
func csvInput() string {
	var b strings.Builder
	b.WriteString("id,text,title\n")
	for i := range 10000 {
		fmt.Fprintf(&b, "doc-%d,\"Ministers met on %d May to discuss border policy, visas and \"\"safe\"\" routes.\",Talks %d\n", i, i%31, i)
	}
	return b.String()
}

// BenchmarkCSVReader reads the rows with the batch reader.
func BenchmarkCSVReader(b *testing.B) {
	in := csvInput()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := newCSVReader(io.NopCloser(strings.NewReader(in)))
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := r.next(); err != nil {
				break
			}
		}
	}
}

// BenchmarkEncodingCSV reads the same rows with encoding/csv, as the reader did before it
// framed records itself, for comparison.
func BenchmarkEncodingCSV(b *testing.B) {
	in := csvInput()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		r := csv.NewReader(bufio.NewReaderSize(strings.NewReader(in), 1<<20))
		r.ReuseRecord = true
		r.FieldsPerRecord = -1
		for {
			rec, err := r.Read()
			if err != nil {
				break
			}
			_, _, _ = strings.Clone(rec[0]), strings.Clone(rec[1]), strings.Clone(rec[2])
		}
	}
}
