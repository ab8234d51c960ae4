package report

import (
	"fmt"
	"image/color"
	"io"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/topicd/topicd/classifier/training"
)

// WriteTopicsPNG draws a multi-topic evaluation as a PNG: one reliability diagram per topic, side
// by side (the share of documents about the topic per probability bin, against the diagonal of
// perfect calibration), each titled with the topic's F1 and ECE. Title heads the picture.
func WriteTopicsPNG(w io.Writer, r training.TopicReport, title string) error {
	if len(r.Topics) == 0 {
		return fmt.Errorf("no topics to draw")
	}
	var panels []*plot.Plot
	for _, t := range r.Topics {
		p, err := reliabilityPanel(t.Reliability, fmt.Sprintf("%s: F1 %.3f, ECE %.3f", t.Topic, t.F1, t.ECE), "probability of the topic", "share of documents about it")
		if err != nil {
			return fmt.Errorf("topic %s: %w", t.Topic, err)
		}
		panels = append(panels, p)
	}
	wd := vg.Length(len(panels)) * 5.5 * vg.Inch
	img := vgimg.New(wd, height)
	dc := draw.New(img)
	head := text.Style{Color: color.Black, Font: plot.DefaultFont, Handler: plot.DefaultTextHandler, XAlign: draw.XCenter}
	head.Font.Size = vg.Points(14)
	line := fmt.Sprintf("macro-F1 %.3f, exact topic set %.3f, Hamming loss %.3f, %d documents", r.MacroF1, r.ExactMatch, r.HammingLoss, r.Documents)
	if title != "" {
		line = title + ": " + line
	}
	dc.FillText(head, vg.Point{X: wd / 2, Y: height - vg.Points(18)}, line)
	dc.Max.Y -= vg.Points(26)
	tiles := draw.Tiles{Rows: 1, Cols: len(panels), PadX: vg.Points(30), PadLeft: vg.Points(10), PadRight: vg.Points(10), PadTop: vg.Points(5), PadBottom: vg.Points(5)}
	canvases := plot.Align([][]*plot.Plot{panels}, tiles, dc)
	for i, p := range panels {
		p.Draw(canvases[0][i])
	}
	_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
	return err
}
