package main

import (
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

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/topicd/topicd/client"
	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// runClassify labels one document given as arguments, a file or standard input.
func runClassify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("classify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var conn connFlags
	conn.register(fs)
	file := fs.String("file", "", "read the text from `file` (- for standard input)")
	title := fs.String("title", "", "the document's headline, classified with the text")
	id := fs.String("id", "", "document id, echoed in the result")
	model := fs.String("model", "", "model `name` (default: the server's default model)")
	asJSON := fs.Bool("json", false, "print the result as JSON (the API's Classification message)")
	topK := fs.Int("top-k", 0, "show only the `k` best labels (0: all)")
	minConf := fs.Float64("min-confidence", 0, "abstain (label other) when the best confidence is below `p`")
	html := fs.Bool("html", false, "the text is an HTML page: the server extracts its article before classifying (implied by a --file ending in .html or .htm)")
	topicThreshold := fs.Float64("topic-threshold", 0, "a topic is present when its probability reaches `p` (0: the model's threshold for each topic)")
	explain := fs.Bool("explain", false, "show the terms that pushed most toward each label, and the passage behind each present topic")
	terms := fs.Int("explain-terms", 0, "terms per label with --explain (0: the server's default, 5)")
	var mix labelMixFlag
	fs.Var(&mix, "label-mix", labelMixUsage)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: topicctl classify [flags] [TEXT... | -]\n\nLabels one document: the arguments joined by spaces, --file, or standard input (-).\n\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	text, err := classifyInput(fs.Args(), *file)
	if err != nil {
		return err
	}
	c, err := conn.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	opts := []client.ClassifyOption{client.WithModel(*model), client.WithTopK(*topK), client.WithMinConfidence(*minConf), client.WithLabelMix(mix), client.WithTopicThreshold(*topicThreshold)}
	if *explain {
		opts = append(opts, client.WithExplain(*terms))
	}
	cl, err := c.Classify(ctx, classifyDocument(*id, *title, text, *file, *html), opts...)
	if err != nil {
		return fmt.Errorf("classify on %s: %w", conn.server, err)
	}
	if *asJSON {
		b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(cl)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	return printClassification(stdout, cl)
}

// classifyDocument is the document `topicctl classify` sends: HTML with --html or a --file
// named .html or .htm.
func classifyDocument(id, title, text, file string, html bool) *topicdv1.Document {
	doc := &topicdv1.Document{Id: id, Text: text, Title: title}
	if ext := strings.ToLower(filepath.Ext(file)); html || ext == ".html" || ext == ".htm" {
		doc.ContentType = topicdv1.ContentType_CONTENT_TYPE_HTML
	}
	return doc
}

// classifyInput returns the text to classify from the positional arguments or --file.
func classifyInput(args []string, file string) (string, error) {
	var r io.Reader
	switch {
	case file != "" && len(args) > 0:
		return "", errors.New("give the text as arguments or with --file, not both")
	case file == "-" || (file == "" && len(args) == 1 && args[0] == "-"):
		r = os.Stdin
	case file != "":
		b, err := os.ReadFile(file)
		return string(b), err
	case len(args) > 0:
		return strings.Join(args, " "), nil
	default:
		return "", errors.New("no text: give it as arguments, with --file F, or - to read standard input")
	}
	b, err := io.ReadAll(r)
	return string(b), err
}

// printClassification writes a table of labels and confidences, with the explanations if any.
func printClassification(w io.Writer, cl *topicdv1.Classification) error {
	label := cl.GetLabel()
	if cl.GetAbstained() {
		label += " (abstained: best confidence below --min-confidence)"
	}
	fmt.Fprintf(w, "label:  %s\nmodel:  %s (version %s)\ninput:  %d bytes, %d tokens, %d known to the model\n\n",
		label, cl.GetModel(), cl.GetModelVersion(), cl.GetStats().GetBytes(), cl.GetStats().GetTokens(), cl.GetStats().GetKnownTokens())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LABEL\tCONFIDENCE\t")
	for _, s := range cl.GetScores() {
		fmt.Fprintf(tw, "%s\t%.4f\t%s\n", s.GetLabel(), s.GetConfidence(), strings.Repeat("█", int(s.GetConfidence()*30+0.5)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if err := printTopics(w, cl.GetTopics()); err != nil {
		return err
	}
	if len(cl.GetExplanations()) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\nterms that pushed toward each label (weight: log-odds against the other labels):")
	for _, e := range cl.GetExplanations() {
		parts := make([]string, 0, len(e.GetTerms()))
		for _, t := range e.GetTerms() {
			parts = append(parts, fmt.Sprintf("%s %+.2f", t.GetTerm(), t.GetWeight()))
		}
		if len(parts) == 0 {
			parts = append(parts, "(none)")
		}
		fmt.Fprintf(w, "  %-14s %s\n", e.GetLabel()+":", strings.Join(parts, ", "))
	}
	return nil
}

// printTopics writes the per-topic probabilities, present ones marked, with the evidence passage
// of each present topic when the server sent one (--explain).
func printTopics(w io.Writer, topics []*topicdv1.TopicScore) error {
	if len(topics) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\ntopics (each on its own: the probability the document is substantially about it):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPROBABILITY\tPRESENT\tTHRESHOLD\t")
	for _, t := range topics {
		present := "-"
		if t.GetPresent() {
			present = "yes"
		}
		fmt.Fprintf(tw, "%s\t%.4f\t%s\t%.2f\t%s\n", t.GetTopic(), t.GetProbability(), present, t.GetThreshold(), strings.Repeat("█", int(t.GetProbability()*30+0.5)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, t := range topics {
		if e := t.GetEvidence(); e != nil {
			fmt.Fprintf(w, "  evidence for %s (bytes %d-%d, %.2f): %q\n", t.GetTopic(), e.GetStart(), e.GetEnd(), e.GetScore(), e.GetText())
		}
	}
	return nil
}

const labelMixUsage = "the share of each label among your documents, `label=share,...` (e.g. cybersecurity=0.5), when it differs from the mix the model assumes (topicctl models shows it); labels left out share the rest"

// labelMixFlag is --label-mix: label=share pairs.
type labelMixFlag map[string]float64

func (f *labelMixFlag) String() string {
	if f == nil || len(*f) == 0 {
		return ""
	}
	parts := make([]string, 0, len(*f))
	for l, p := range *f {
		parts = append(parts, l+"="+strconv.FormatFloat(p, 'g', -1, 64))
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// Set parses label=share pairs; the server checks the labels and that the shares add up.
func (f *labelMixFlag) Set(s string) error {
	m := labelMixFlag{}
	for _, kv := range strings.Split(s, ",") {
		l, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		p, err := strconv.ParseFloat(v, 64)
		if !ok || l == "" || err != nil {
			return fmt.Errorf("%q: want label=share pairs such as cybersecurity=0.5,other=0.3", s)
		}
		if _, dup := m[l]; dup {
			return fmt.Errorf("%q names %s twice", s, l)
		}
		m[l] = p
	}
	*f = m
	return nil
}
