package server

import (
	"os"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

func newsPage(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../internal/article/testdata/news-page.html")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func htmlDoc(id, page string) *topicdv1.Document {
	return &topicdv1.Document{Id: id, Text: page, ContentType: topicdv1.ContentType_CONTENT_TYPE_HTML}
}

func TestClassifyHTML(t *testing.T) {
	env := newTestEnv(t, nil, Options{})
	ctx := testCtx(t)
	page := newsPage(t)

	resp, err := env.cls.Classify(ctx, &topicdv1.ClassifyRequest{Document: htmlDoc("p1", page), Options: &topicdv1.ClassifyOptions{Explain: true}})
	if err != nil {
		t.Fatalf("Classify(news page as HTML) = %v", err)
	}
	c := resp.GetClassification()
	x := c.GetExtracted()
	if !strings.HasPrefix(x.GetTitle(), "Ministry servers breached") || !strings.Contains(x.GetText(), "summoned the ambassador") || strings.Contains(x.GetText(), "zz") {
		t.Errorf("Classify(news page).extracted = %+v, want the page's title and only the article's text", x)
	}
	// The model read the extracted text and title, as plain text gets them.
	plain, err := env.cls.Classify(ctx, &topicdv1.ClassifyRequest{Document: &topicdv1.Document{Title: x.GetTitle(), Text: x.GetText()}})
	if err != nil {
		t.Fatal(err)
	}
	if c.GetLabel() != plain.GetClassification().GetLabel() || c.GetConfidence() != plain.GetClassification().GetConfidence() ||
		c.GetStats().GetBytes() != plain.GetClassification().GetStats().GetBytes() {
		t.Errorf("Classify(page as HTML) = %s %v %d bytes, want what its extracted text as plain text gets: %s %v %d bytes",
			c.GetLabel(), c.GetConfidence(), c.GetStats().GetBytes(), plain.GetClassification().GetLabel(), plain.GetClassification().GetConfidence(), plain.GetClassification().GetStats().GetBytes())
	}

	// Without explain there is no extracted text; the request's title wins over the page's.
	d := htmlDoc("p2", page)
	d.Title = "My own title"
	resp, err = env.cls.Classify(ctx, &topicdv1.ClassifyRequest{Document: d})
	if err != nil || resp.GetClassification().GetExtracted() != nil {
		t.Errorf("Classify(HTML, no explain) = %v, %v, want no extracted text", resp, err)
	}
	resp, err = env.cls.Classify(ctx, &topicdv1.ClassifyRequest{Document: d, Options: &topicdv1.ClassifyOptions{Explain: true}})
	if err != nil || resp.GetClassification().GetExtracted().GetTitle() != "My own title" {
		t.Errorf("Classify(HTML with a title).extracted.title = %q (%v), want the request's", resp.GetClassification().GetExtracted().GetTitle(), err)
	}

	// Plain text that looks like HTML is read as it is.
	resp, err = env.cls.Classify(ctx, &topicdv1.ClassifyRequest{Document: &topicdv1.Document{Text: "<p>hackers</p>"}, Options: &topicdv1.ClassifyOptions{Explain: true}})
	if err != nil || resp.GetClassification().GetExtracted() != nil || resp.GetClassification().GetStats().GetBytes() != 14 {
		t.Errorf("Classify(plain text with tags) = %v, %v, want it read as 14 bytes of text", resp, err)
	}
}

func TestClassifyHTMLErrors(t *testing.T) {
	env := newTestEnv(t, nil, Options{MaxHTMLBytes: 10000, MaxDocumentBytes: 100})
	ctx := testCtx(t)
	long := "<p>" + strings.Repeat("word ", 100) + "</p>"
	tests := []struct {
		name string
		doc  *topicdv1.Document
		want []string
	}{
		{"no article text", htmlDoc("", "<script>x()</script><nav>Home</nav>"), []string{"HTML with no article text"}},
		{"empty", htmlDoc("", ""), []string{"HTML with no article text"}},
		{"over the HTML limit", htmlDoc("", strings.Repeat("<p>a</p>", 2000)), []string{"16000 bytes of HTML", "limit of 10000 bytes for HTML"}},
		{"extracted text over the text limit", htmlDoc("", long), []string{"over this server's limit of 100 bytes"}},
		{"too deep", htmlDoc("", strings.Repeat("<div>", 600)+"x"), []string{"nested deeper than 512"}},
		{"unknown content type", &topicdv1.Document{Text: "x", ContentType: 9}, []string{"content_type 9 is not known"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := env.cls.Classify(ctx, &topicdv1.ClassifyRequest{Document: tt.doc})
			wantStatus(t, "Classify", err, codes.InvalidArgument, tt.want...)
		})
	}

	// The gRPC client refuses to send invalid UTF-8; the server's lenient codec lets it in.
	_, err := env.srv.Classify(ctx, &topicdv1.ClassifyRequest{Document: htmlDoc("", "<p>\xff</p>")})
	wantStatus(t, "Classify(HTML, invalid UTF-8)", err, codes.InvalidArgument, "document.text is not valid UTF-8")

	// In a batch, the bad HTML document fails alone.
	resp, err := env.cls.ClassifyBatch(ctx, &topicdv1.ClassifyBatchRequest{Documents: []*topicdv1.Document{
		htmlDoc("good", "<p>Hackers stole files.</p>"), htmlDoc("bad", "<nav>Home</nav>"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if r := resp.GetResults(); len(r) != 2 || r[0].GetClassification() == nil || r[1].GetError().GetCode() != int32(codes.InvalidArgument) {
		t.Errorf("ClassifyBatch(good HTML, HTML without text) = %v, want a classification and INVALID_ARGUMENT", resp)
	}
}

func TestClassifyHTMLStream(t *testing.T) {
	env := newTestEnv(t, nil, Options{})
	stream, err := env.cls.ClassifyStream(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	page := newsPage(t)
	if err := stream.Send(&topicdv1.ClassifyStreamRequest{Document: htmlDoc("s1", page), Options: &topicdv1.ClassifyOptions{Explain: true}}); err != nil {
		t.Fatal(err)
	}
	stream.CloseSend()
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if x := resp.GetClassification().GetExtracted(); !strings.Contains(x.GetText(), "asylum claims") {
		t.Errorf("ClassifyStream(news page) = %v, want the extracted article", resp)
	}
}
