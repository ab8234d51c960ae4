// Package report draws an evaluation as a picture: the confusion matrix and the reliability
// diagram side by side, with gonum.org/v1/plot. It lives outside classifier so that the plotting
// library stays out of the server's dependencies.
package report

import (
	"fmt"
	"image/color"
	"io"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/brewer"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/topicd/topicd/classifier/training"
)

// Size of the picture: two square-ish panels side by side.
const (
	width  = 12 * vg.Inch
	height = 5.5 * vg.Inch
)

// WritePNG draws r as a PNG: on the left the confusion matrix (cells coloured by the share of the
// true label's documents, so a thin label's errors are as visible as a large one's), on the right
// the reliability diagram (accuracy per confidence bin against the diagonal of perfect
// calibration). Title heads the picture, for example the model and data set names.
func WritePNG(w io.Writer, r training.Report, title string) error {
	cm, err := confusionPlot(r)
	if err != nil {
		return fmt.Errorf("confusion matrix: %w", err)
	}
	rel, err := reliabilityPlot(r)
	if err != nil {
		return fmt.Errorf("reliability diagram: %w", err)
	}
	img := vgimg.New(width, height)
	dc := draw.New(img)
	if title != "" {
		head := text.Style{Color: color.Black, Font: plot.DefaultFont, Handler: plot.DefaultTextHandler, XAlign: draw.XCenter}
		head.Font.Size = vg.Points(14)
		dc.FillText(head, vg.Point{X: width / 2, Y: height - vg.Points(18)}, title)
		dc.Max.Y -= vg.Points(26)
	}
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Points(30), PadLeft: vg.Points(10), PadRight: vg.Points(10), PadTop: vg.Points(5), PadBottom: vg.Points(5)}
	canvases := plot.Align([][]*plot.Plot{{cm, rel}}, tiles, dc)
	cm.Draw(canvases[0][0])
	rel.Draw(canvases[0][1])
	_, err = vgimg.PngCanvas{Canvas: img}.WriteTo(w)
	return err
}

// grid adapts a confusion matrix to plotter.GridXYZ: column c is the predicted label, row r the
// true label, drawn top to bottom in label order; Z is the row share.
type grid struct{ share [][]float64 }

func (g grid) Dims() (c, r int)   { return len(g.share), len(g.share) }
func (g grid) Z(c, r int) float64 { return g.share[len(g.share)-1-r][c] }
func (g grid) X(c int) float64    { return float64(c) }
func (g grid) Y(r int) float64    { return float64(r) }
func (g grid) Min() float64       { return 0 }
func (g grid) Max() float64       { return 1 }

func confusionPlot(r training.Report) (*plot.Plot, error) {
	n := len(r.Confusion)
	if n == 0 {
		return nil, fmt.Errorf("report has no labels")
	}
	names := make([]string, n)
	for i, m := range r.Labels {
		names[i] = m.Label
	}
	share := make([][]float64, n)
	var xys plotter.XYs
	var labels []string
	var styles []text.Style
	for i, row := range r.Confusion {
		total := 0
		for _, v := range row {
			total += v
		}
		share[i] = make([]float64, n)
		for j, v := range row {
			if total > 0 {
				share[i][j] = float64(v) / float64(total)
			}
			xys = append(xys, plotter.XY{X: float64(j), Y: float64(n - 1 - i)})
			labels = append(labels, fmt.Sprintf("%d\n%.0f%%", v, 100*share[i][j]))
			st := text.Style{Color: color.Black, Font: plot.DefaultFont, Handler: plot.DefaultTextHandler, XAlign: draw.XCenter, YAlign: draw.YCenter}
			st.Font.Size = vg.Points(11)
			if share[i][j] > 0.55 {
				st.Color = color.White
			}
			styles = append(styles, st)
		}
	}
	pal, err := brewer.GetPalette(brewer.TypeSequential, "Blues", 9)
	if err != nil {
		return nil, err
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Confusion matrix (accuracy %.3f, macro-F1 %.3f)", r.Accuracy, r.MacroF1)
	p.X.Label.Text = "predicted"
	p.Y.Label.Text = "true (row %: recall)"
	p.Add(plotter.NewHeatMap(grid{share}, pal))
	cells, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: labels})
	if err != nil {
		return nil, err
	}
	cells.TextStyle = styles
	p.Add(cells)
	p.NominalX(names...)
	rev := make([]string, n)
	for i, s := range names {
		rev[n-1-i] = shortLabel(s)
	}
	p.NominalY(rev...)
	return p, nil
}

// shortLabel keeps the vertical axis narrow enough for the heat map to stay square.
func shortLabel(s string) string {
	if len(s) > 9 {
		return strings.TrimSpace(s[:8]) + "."
	}
	return s
}

func reliabilityPlot(r training.Report) (*plot.Plot, error) {
	return reliabilityPanel(r.Reliability, fmt.Sprintf("Reliability (ECE %.3f, %d documents)", r.ExpectedCalibrationError, r.Documents), "confidence of the top label", "accuracy")
}

// reliabilityPanel draws reliability bins: a bar per bin at its accuracy, a dot at its mean
// confidence, and the diagonal of perfect calibration.
func reliabilityPanel(bins []training.ReliabilityBin, title, xLabel, yLabel string) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1.08
	p.Add(plotter.NewGrid())

	var pts plotter.XYs
	var xys plotter.XYs
	var counts []string
	for _, b := range bins {
		if b.Count == 0 {
			continue
		}
		bar, err := plotter.NewPolygon(plotter.XYs{{X: b.Lower, Y: 0}, {X: b.Upper, Y: 0}, {X: b.Upper, Y: b.Accuracy}, {X: b.Lower, Y: b.Accuracy}})
		if err != nil {
			return nil, err
		}
		bar.Color = color.RGBA{R: 66, G: 133, B: 244, A: 255}
		bar.LineStyle.Color = color.White
		p.Add(bar)
		pts = append(pts, plotter.XY{X: b.MeanConfidence, Y: b.Accuracy})
		xys = append(xys, plotter.XY{X: (b.Lower + b.Upper) / 2, Y: b.Accuracy + 0.045})
		counts = append(counts, fmt.Sprintf("n=%d", b.Count))
	}
	diag, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
	if err != nil {
		return nil, err
	}
	diag.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	diag.Color = color.Gray{Y: 80}
	p.Add(diag)
	p.Legend.Add("perfect calibration", diag)
	if len(pts) > 0 {
		dots, err := plotter.NewScatter(pts)
		if err != nil {
			return nil, err
		}
		dots.Color = color.RGBA{R: 219, G: 68, B: 55, A: 255}
		dots.Radius = vg.Points(3.5)
		p.Add(dots)
		p.Legend.Add("mean confidence vs accuracy", dots)
		lab, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: counts})
		if err != nil {
			return nil, err
		}
		for i := range lab.TextStyle {
			lab.TextStyle[i].XAlign = draw.XCenter
			lab.TextStyle[i].Font.Size = vg.Points(8)
		}
		p.Add(lab)
	}
	p.Legend.Top = true
	p.Legend.Left = true
	return p, nil
}
