package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/topicd/topicd/client"
	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// binDir holds the topicd and topicctl binaries the end-to-end tests run, built once by
// TestMain unless -short; buildErr says why they could not be built.
var (
	binDir   string
	buildErr error
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := func() int {
		if !testing.Short() && os.Getenv("TOPICCTL_E2E") != "off" {
			dir, err := os.MkdirTemp("", "topicctl-e2e-")
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			defer os.RemoveAll(dir)
			binDir = dir
			for _, name := range []string{"topicd", "topicctl"} {
				cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), "github.com/topicd/topicd/cmd/"+name)
				if out, err := cmd.CombinedOutput(); err != nil {
					buildErr = fmt.Errorf("build %s: %v\n%s", name, err, out)
					break
				}
			}
		}
		return m.Run()
	}()
	os.Exit(code)
}

func needBinaries(t *testing.T) {
	t.Helper()
	if binDir == "" {
		t.Skip("end-to-end test: needs the binaries, not built with -short or TOPICCTL_E2E=off")
	}
	if buildErr != nil {
		t.Fatal(buildErr)
	}
}

// topicd is one real server process.
type topicd struct {
	cmd     *exec.Cmd
	addr    string
	done    chan struct{}
	batches atomic.Int64 // ClassifyBatch calls answered, from the server's call log
}

// startTopicd starts topicd on listen (127.0.0.1:0 for a free port) with the extra flags and
// waits for its "serving" log line, which holds the address.
func startTopicd(t *testing.T, listen string, flags ...string) *topicd {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "topicd"), append([]string{"--listen", listen, "--http-listen", "127.0.0.1:0", "--log-format", "json", "--shutdown-timeout", "3s"}, flags...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &topicd{cmd: cmd, done: make(chan struct{})}
	addr := make(chan string, 1)
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var line struct {
				Msg    string `json:"msg"`
				Addr   string `json:"addr"`
				Method string `json:"method"`
			}
			if json.Unmarshal(sc.Bytes(), &line) != nil {
				continue
			}
			if strings.HasSuffix(line.Method, "/ClassifyBatch") {
				s.batches.Add(1)
			}
			if line.Msg == "serving" && line.Addr != "" {
				select {
				case addr <- line.Addr:
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	// Wait closes the pipe, so it waits for the reader to see the last lines first.
	go func() { <-read; cmd.Wait(); close(s.done) }()
	t.Cleanup(func() { s.kill() })
	select {
	case s.addr = <-addr:
	case <-s.done:
		t.Fatalf("topicd --listen %s exited before serving", listen)
	case <-time.After(20 * time.Second):
		t.Fatalf("topicd --listen %s did not log its address within 20 s", listen)
	}
	return s
}

func (s *topicd) kill() {
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// Sentences of our own, a few per topic, combined at random into documents.
var sentences = map[string][]string{
	"cybersecurity": {
		"Hackers breached the ministry's computer network and stole thousands of passwords.",
		"A ransomware attack encrypted hospital servers and the attackers demanded payment in bitcoin.",
		"Security researchers found a software vulnerability that lets malware take over routers.",
		"The agency blamed a state-sponsored hacking group for the cyberattack on the power grid.",
		"A data breach exposed the personal records of millions of bank customers.",
	},
	"migration": {
		"Hundreds of migrants crossed the sea in small boats and asked for asylum.",
		"The government tightened the rules for refugees arriving at the southern border.",
		"Aid groups said the camp for displaced people was running out of water.",
		"Border guards detained asylum seekers who had walked through the forest.",
		"The coast guard rescued migrants from a sinking boat near the island.",
	},
	"diplomacy": {
		"The foreign ministers met in Geneva to negotiate a ceasefire agreement.",
		"The president recalled the ambassador after a dispute over the treaty.",
		"Both governments signed a trade agreement during the state visit.",
		"The summit ended with a joint statement on nuclear disarmament talks.",
		"The United Nations envoy held talks with both delegations on the peace plan.",
	},
	"other": {
		"The football club won the league after a late goal in the final match.",
		"Heavy rain caused floods and closed roads across the northern province.",
		"The central bank raised interest rates to slow inflation.",
		"Scientists announced the discovery of a new species of frog in the rainforest.",
		"The film festival awarded its top prize to a documentary about farmers.",
	},
}

// testDocs returns n JSONL lines with ids doc-0 ... doc-(n-1), built from sentences.
func testDocs(n int) [][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	topics := []string{"cybersecurity", "migration", "diplomacy", "other"}
	docs := make([][]byte, n)
	for i := range docs {
		s := sentences[topics[rng.IntN(len(topics))]]
		var text []string
		for range 2 + rng.IntN(3) {
			text = append(text, s[rng.IntN(len(s))])
		}
		b, _ := json.Marshal(map[string]string{"id": fmt.Sprintf("doc-%d", i), "title": "", "text": strings.Join(text, " ")})
		docs[i] = append(b, '\n')
	}
	return docs
}

// checkOnce asserts the output holds exactly one classification for each of n ids and no
// error record, and returns the records by id.
func checkOnce(t *testing.T, out string, n int) map[string]record {
	t.Helper()
	recs := readRecords(t, out)
	byID := make(map[string]record, len(recs))
	dups, errs := 0, 0
	for _, r := range recs {
		if _, ok := byID[r.ID]; ok {
			dups++
			if dups <= 5 {
				t.Errorf("id %s has more than one record", r.ID)
			}
		}
		byID[r.ID] = r
		if r.Error != nil {
			errs++
			if errs <= 5 {
				t.Errorf("error record: %s %s: %s", r.ID, r.Error.Code, r.Error.Message)
			}
		}
	}
	missing := 0
	for i := range n {
		if _, ok := byID[fmt.Sprintf("doc-%d", i)]; !ok {
			missing++
		}
	}
	if missing > 0 || dups > 0 || errs > 0 || len(recs) != n {
		t.Fatalf("output has %d records for %d documents: %d ids missing, %d duplicated, %d errors", len(recs), n, missing, dups, errs)
	}
	return byID
}

// checkLabels classifies a sample of documents one by one with Classify and compares.
func checkLabels(t *testing.T, addr string, docs [][]byte, byID map[string]record) {
	t.Helper()
	c, err := client.New(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < len(docs); i += len(docs) / 40 {
		var d struct{ ID, Text string }
		json.Unmarshal(docs[i], &d)
		cl, err := c.Classify(context.Background(), &topicdv1.Document{Id: d.ID, Text: d.Text})
		if err != nil {
			t.Fatalf("Classify(%s): %v", d.ID, err)
		}
		r := byID[d.ID]
		if r.Label != cl.GetLabel() || fmt.Sprint(float32(r.Confidence)) != fmt.Sprint(cl.GetConfidence()) {
			t.Errorf("%s: batch gave %s %v, Classify gives %s %v", d.ID, r.Label, r.Confidence, cl.GetLabel(), cl.GetConfidence())
		}
		// Topics travel through the batch codecs and the record too.
		var present []string
		for _, tp := range cl.GetTopics() {
			if tp.GetPresent() {
				present = append(present, tp.GetTopic())
			}
			if fmt.Sprint(float32(r.TopicProbs[tp.GetTopic()])) != fmt.Sprint(tp.GetProbability()) {
				t.Errorf("%s: batch gave topic %s %v, Classify gives %v", d.ID, tp.GetTopic(), r.TopicProbs[tp.GetTopic()], tp.GetProbability())
			}
		}
		if len(cl.GetTopics()) != 3 || len(r.TopicProbs) != 3 || fmt.Sprint(present) != fmt.Sprint(r.Topics) {
			t.Errorf("%s: batch gave topics %v %v, Classify gives %v", d.ID, r.Topics, r.TopicProbs, cl.GetTopics())
		}
	}
}

// startBatch starts `topicctl batch --in -` with args, and returns its stdin and a function
// that waits for it and returns its error and standard error.
func startBatch(t *testing.T, args ...string) (io.WriteCloser, *exec.Cmd, func() (string, error)) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "topicctl"), append([]string{"batch", "--in", "-"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	return stdin, cmd, func() (string, error) {
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			return stderr.String(), err
		case <-time.After(90 * time.Second):
			cmd.Process.Kill()
			return stderr.String(), fmt.Errorf("topicctl batch did not finish in 90 s")
		}
	}
}

// TestBatchThreeServersOneDies runs a batch over three real servers; midway one is killed
// (SIGKILL) and later restarted on its address, and another is stopped with SIGTERM. Every
// document must come out exactly once, with no error, and with the label Classify gives. It
// runs once per transport: ClassifyBatch chunks and ClassifyStream.
func TestBatchThreeServersOneDies(t *testing.T) {
	needBinaries(t)
	const n = 20000
	docs := testDocs(n)
	for _, transport := range []string{"batch", "stream"} {
		t.Run(transport, func(t *testing.T) {
			servers := []*topicd{startTopicd(t, "127.0.0.1:0"), startTopicd(t, "127.0.0.1:0"), startTopicd(t, "127.0.0.1:0")}
			addrs := []string{servers[0].addr, servers[1].addr, servers[2].addr}
			out := filepath.Join(t.TempDir(), "out.jsonl")
			stdin, _, wait := startBatch(t, "--out", out, "--server", strings.Join(addrs, ","),
				"--transport", transport, "--concurrency", "6", "--chunk", "50")

			// The input goes through a pipe, which blocks the test's writes while topicctl is
			// behind, so what the test has written tracks what topicctl has read: the servers
			// die midway with documents in flight, whatever the machine's speed.
			var wg sync.WaitGroup
			var before int64 // ClassifyBatch calls the first server had answered at n/8
			wg.Go(func() {
				defer stdin.Close()
				for i, d := range docs {
					switch i {
					case n / 8:
						// Make sure the first server takes part before it is killed. Its call
						// log is flushed every 100 ms, so wait for it.
						for wait := time.Now(); servers[0].batches.Load() == 0 && time.Since(wait) < 5*time.Second; {
							time.Sleep(10 * time.Millisecond)
						}
						before = servers[0].batches.Load()
					case n / 4:
						servers[0].kill()
					case n / 2:
						servers[1].cmd.Process.Signal(syscall.SIGTERM)
					case 3 * n / 4:
						servers[0] = startTopicd(t, addrs[0])
					}
					if _, err := stdin.Write(d); err != nil {
						t.Errorf("write input: %v", err)
						return
					}
				}
			})
			wg.Wait()
			stderr, err := wait()
			if err != nil {
				t.Fatalf("topicctl batch: %v\n%s", err, stderr)
			}
			t.Logf("topicctl batch:\n%s", stderr)
			byID := checkOnce(t, out, n)
			checkLabels(t, addrs[2], docs, byID)
			// gRPC retries a failed unary call by itself, so only streams surely see the
			// servers go: at least one must have failed, or the test tested nothing.
			if transport == "stream" && !strings.Contains(stderr, "classify stream failed") {
				t.Errorf("no stream failed: the stopped servers had none open")
			}
			if transport == "batch" && before == 0 {
				t.Errorf("the first server answered no call before it was killed: the test tested nothing")
			}
		})
	}
}

// TestBatchConnectionAge runs a batch against a server that closes every connection after
// 200 ms (GOAWAY, then 100 ms for the calls running) while the input trickles in for over a
// second: the client must reconnect and resend what was cut, and lose or repeat nothing.
func TestBatchConnectionAge(t *testing.T) {
	needBinaries(t)
	const n = 10000
	docs := testDocs(n)
	for _, transport := range []string{"batch", "stream"} {
		t.Run(transport, func(t *testing.T) {
			// The age must leave a stream time to answer some documents on a loaded machine
			// under the race detector (a new connection, then its first answers), or every
			// document can use up its attempts on streams cut before they answer; the input is
			// paced to outlast several ages, so streams are still cut.
			s := startTopicd(t, "127.0.0.1:0", "--max-connection-age", "1s", "--max-connection-age-grace", "500ms")
			out := filepath.Join(t.TempDir(), "out.jsonl")
			stdin, _, wait := startBatch(t, "--out", out, "--server", s.addr,
				"--transport", transport, "--concurrency", "4", "--chunk", "50")
			go func() {
				defer stdin.Close()
				for i, d := range docs {
					if i%100 == 0 {
						time.Sleep(40 * time.Millisecond) // 10,000 documents: at least 4 s
					}
					if _, err := stdin.Write(d); err != nil {
						t.Errorf("write input: %v", err)
						return
					}
				}
			}()
			stderr, err := wait()
			if err != nil {
				t.Fatalf("topicctl batch: %v\n%s", err, stderr)
			}
			t.Logf("topicctl batch:\n%s", stderr)
			checkOnce(t, out, n)
			// A stream lives as long as the job: the age limit must have cut at least one, or
			// the test tested nothing. Unary calls are moved to the new connection by gRPC.
			if transport == "stream" && !strings.Contains(stderr, "classify stream failed") {
				t.Errorf("no stream was cut by the connection age limit")
			}
		})
	}
}

// TestBatchKilledAndResumed kills `topicctl batch` itself with SIGKILL while it writes, then
// reruns it with --resume: every document must come out exactly once.
func TestBatchKilledAndResumed(t *testing.T) {
	needBinaries(t)
	const n = 20000
	docs := testDocs(n)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	if err := os.WriteFile(in, bytes.Join(docs, nil), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := startTopicd(t, "127.0.0.1:0")
	out := filepath.Join(dir, "out.jsonl")

	stdin, cmd, wait := startBatch(t, "--out", out, "--server", srv.addr, "--concurrency", "2", "--chunk", "20")
	go func() {
		defer stdin.Close()
		for i, d := range docs {
			if _, err := stdin.Write(d); err != nil {
				return // killed
			}
			if i%500 == 0 {
				time.Sleep(5 * time.Millisecond)
			}
		}
	}()
	// Kill it once it has written a good part of the output, while it is still writing.
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := os.Stat(out)
		if err == nil && st.Size() > 400<<10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("topicctl batch wrote under 400 KiB in 30 s")
		}
		time.Sleep(time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	wait()
	first := len(readRecordsLenient(t, out))
	if first == 0 || first >= n {
		t.Fatalf("the killed run wrote %d of %d records; the test needs it stopped midway", first, n)
	}

	resume := exec.Command(filepath.Join(binDir, "topicctl"), "batch", "--resume", "--summary", "--in", in, "--out", out, "--server", srv.addr)
	msg, err := resume.CombinedOutput()
	if err != nil {
		t.Fatalf("topicctl batch --resume: %v\n%s", err, msg)
	}
	t.Logf("killed after %d records; resume:\n%s", first, msg)
	if !strings.Contains(string(msg), "skipped") {
		t.Errorf("resume summary does not report skipped documents:\n%s", msg)
	}
	byID := checkOnce(t, out, n)
	checkLabels(t, srv.addr, docs, byID)
}

// readRecordsLenient counts the complete lines of a file a killed process may have left
// with a partial last line.
func readRecordsLenient(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(b, []byte{'\n'})
	return lines[:len(lines)-1]
}

// TestClassifyTopics runs `topicctl classify` against a real server on an article about three
// topics: the topics table marks the present ones, and --explain shows the passage behind each.
func TestClassifyTopics(t *testing.T) {
	needBinaries(t)
	s := startTopicd(t, "127.0.0.1:0")
	text := "Hackers working for a foreign intelligence service broke into the interior ministry's servers and stole emails. " +
		"The leaked files show that the two governments were negotiating the return of migrants and asylum seekers whose claims were rejected. " +
		"Refugee groups said the people named in the files feared deportation. " +
		"The government expelled the ambassador and the foreign ministers broke off diplomatic relations; allies imposed sanctions on the spy agency."
	cmd := exec.Command(filepath.Join(binDir, "topicctl"), "classify", "--server", s.addr, "--explain", text)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("topicctl classify: %v\n%s", err, out)
	}
	for _, want := range []string{"topics (each on its own", "TOPIC", "PROBABILITY", "PRESENT", "cybersecurity", "evidence for"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("classify output lacks %q:\n%s", want, out)
		}
	}
	cmd = exec.Command(filepath.Join(binDir, "topicctl"), "models", "--server", s.addr)
	if out, err = cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "topic thresholds") || !strings.Contains(string(out), "diplomacy=0.") {
		t.Errorf("topicctl models: %v, want the topic thresholds:\n%s", err, out)
	}
	cmd = exec.Command(filepath.Join(binDir, "topicctl"), "classify", "--server", s.addr, "--json", "--topic-threshold", "1", text)
	out, err = cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("topicctl classify --json: %v\n%s", err, out)
	}
	var cl struct {
		Topics []struct {
			Topic     string  `json:"topic"`
			Present   bool    `json:"present"`
			Threshold float64 `json:"threshold"`
		} `json:"topics"`
	}
	if err := json.Unmarshal(out, &cl); err != nil {
		t.Fatalf("classify --json printed %s: %v", out, err)
	}
	if len(cl.Topics) != 3 {
		t.Fatalf("classify --json topics %+v, want 3", cl.Topics)
	}
	for _, tp := range cl.Topics {
		if tp.Present || tp.Threshold != 1 {
			t.Errorf("topic %+v at --topic-threshold 1: want absent, threshold 1", tp)
		}
	}
}

// TestBatchNoServerExit: the topicctl binary with no server at --server exits with status 1
// and says why on standard error, in one line, leaving the output as it was.
func TestBatchNoServerExit(t *testing.T) {
	needBinaries(t)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.jsonl"), filepath.Join(dir, "out.jsonl")
	os.WriteFile(in, []byte(`{"id":"1","text":"hello"}`+"\n"), 0o644)
	earlier := `{"id":"1","retry":true,"error":{"code":"UNAVAILABLE","message":"x"}}` + "\n"
	os.WriteFile(out, []byte(earlier), 0o644)
	down := freeAddr(t)
	cmd := exec.Command(filepath.Join(binDir, "topicctl"), "batch", "--in", in, "--out", out, "--resume", "--server", down, "--connect-timeout", "200ms")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 1 {
		t.Fatalf("topicctl batch with no server: %v, want exit status 1\n%s", err, stderr.String())
	}
	if msg := stderr.String(); !strings.HasPrefix(msg, "topicctl: no topicd server reachable at "+down) || strings.Count(msg, "\n") != 1 {
		t.Errorf("standard error:\n%s\nwant one line saying no server is reachable at %s", msg, down)
	}
	if b, _ := os.ReadFile(out); string(b) != earlier {
		t.Errorf("output after the failed job:\n%s\nwant it as it was", b)
	}
}
