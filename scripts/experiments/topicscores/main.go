// Command topicscores prints, for every row of labelled JSONL files, each topic's probability
// from a model file, one JSON object a line, for analysing topic thresholds and calibration
// outside the model:
//
//	go run ./scripts/experiments/topicscores -model models/news-topics.model scripts/experiments/probe/multitopic-dev.jsonl
package main

import (
	"encoding/json"
	"flag"
	"log"
	"os"

	"github.com/topicd/topicd/classifier"
	"github.com/topicd/topicd/classifier/training"
)

func main() {
	model := flag.String("model", "models/news-topics.model", "model file")
	flag.Parse()
	data, err := os.ReadFile(*model)
	if err != nil {
		log.Fatal(err)
	}
	m, err := classifier.Load(data)
	if err != nil {
		log.Fatal(err)
	}
	enc := json.NewEncoder(os.Stdout)
	for _, path := range flag.Args() {
		exs, _, err := training.ReadCorpusFile(path)
		if err != nil {
			log.Fatal(err)
		}
		for _, ex := range exs {
			res, err := m.Classify(ex.Title, ex.Text, classifier.Options{})
			if err != nil {
				log.Fatal(err)
			}
			probs := map[string]float64{}
			var present []string
			for _, t := range res.Topics {
				probs[t.Topic] = t.Probability
				if t.Present {
					present = append(present, t.Topic)
				}
			}
			enc.Encode(map[string]any{"file": path, "id": ex.ID, "label": ex.Label, "topics": ex.Topics,
				"predicted": res.Label, "probabilities": probs, "thresholds": thresholds(res), "present": present, "known": res.Stats.KnownTokens})
		}
	}
}

func thresholds(res classifier.Result) map[string]float64 {
	out := map[string]float64{}
	for _, t := range res.Topics {
		out[t.Topic] = t.Threshold
	}
	return out
}
