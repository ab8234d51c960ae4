package report

import (
	"bytes"
	"image/png"
	"os"
	"testing"

	"github.com/topicd/topicd/classifier/training"
)

func sampleReport() training.Report {
	var preds []training.Prediction
	add := func(n int, label, pred string, conf float64) {
		for range n {
			preds = append(preds, training.Prediction{Label: label, Predicted: pred, Confidence: conf})
		}
	}
	add(90, "cybersecurity", "cybersecurity", 0.95)
	add(10, "cybersecurity", "other", 0.6)
	add(300, "migration", "migration", 0.85)
	add(40, "migration", "diplomacy", 0.55)
	add(700, "diplomacy", "diplomacy", 0.9)
	add(100, "diplomacy", "other", 0.45)
	add(3000, "other", "other", 0.97)
	add(200, "other", "migration", 0.7)
	return training.Evaluate([]string{"cybersecurity", "migration", "diplomacy", "other"}, preds)
}

func TestWritePNG(t *testing.T) {
	tests := []struct {
		name string
		r    training.Report
	}{
		{"four labels", sampleReport()},
		{"one label, no documents", training.Evaluate([]string{"a"}, nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WritePNG(&buf, tt.r, "test model on test data"); err != nil {
				t.Fatalf("WritePNG: %v", err)
			}
			img, err := png.Decode(bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatalf("WritePNG wrote no PNG: %v", err)
			}
			b := img.Bounds()
			if b.Dx() < 800 || b.Dy() < 300 {
				t.Errorf("picture is %dx%d, want at least 800x300", b.Dx(), b.Dy())
			}
			colors := map[uint32]bool{}
			for y := b.Min.Y; y < b.Max.Y; y += 7 {
				for x := b.Min.X; x < b.Max.X; x += 7 {
					r, g, bl, _ := img.At(x, y).RGBA()
					colors[r>>8<<16|g>>8<<8|bl>>8] = true
				}
			}
			if len(colors) < 5 {
				t.Errorf("picture has %d colours, want a drawing", len(colors))
			}
			// REPORT_PNG=file keeps the picture for a human to look at.
			if out := os.Getenv("REPORT_PNG"); out != "" && tt.name == "four labels" {
				if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestWriteTopicsPNG(t *testing.T) {
	var preds []training.TopicPrediction
	for i := range 60 {
		p := float64(i%10) / 10
		about := i%3 == 0
		preds = append(preds, training.TopicPrediction{
			True:        []bool{about, !about, i%2 == 0},
			Probability: []float64{p, 1 - p, 0.5},
			Present:     []bool{p >= 0.5, p < 0.5, true},
		})
	}
	r, err := training.EvaluateTopics([]string{"cybersecurity", "migration", "diplomacy"}, preds)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteTopicsPNG(&buf, r, "test model on test data"); err != nil {
		t.Fatalf("WriteTopicsPNG: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("WriteTopicsPNG wrote no PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 1200 || b.Dy() < 300 {
		t.Errorf("picture is %dx%d, want three panels", b.Dx(), b.Dy())
	}
	if out := os.Getenv("REPORT_TOPICS_PNG"); out != "" {
		if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := WriteTopicsPNG(&buf, training.TopicReport{}, ""); err == nil {
		t.Error("WriteTopicsPNG of no topics: want an error")
	}
}
