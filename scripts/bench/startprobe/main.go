// Command startprobe starts topicd once and measures how long it takes from exec until its
// grpc.health.v1 Check answers SERVING, then its resident memory (VmRSS from /proc/PID/status)
// with the default model, right at ready and after a warm-up of Classify calls. It prints one
// JSON line and stops the server. scripts/bench/start.sh runs it several times.
//
// The clock starts just before exec, so the time includes loading the binary, the Go runtime's
// start, decoding the embedded model and gRPC's first connection: what a client waiting for the
// new process sees. The probe dials TCP in a tight loop (every 200µs) and, once the port accepts,
// asks for health with WaitForReady, so gRPC's reconnect backoff never adds to the time.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/encoding/protojson"

	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

type result struct {
	ReadyMS       float64 `json:"ready_ms"`        // exec to health SERVING, as the probe saw it
	ServerReadyMS int     `json:"server_ready_ms"` // topicd's own "ready_ms" log field (from main, after runtime init)
	RSSReadyKB    int     `json:"rss_ready_kb"`    // VmRSS when health first said SERVING
	RSSWarmKB     int     `json:"rss_warm_kb"`     // VmRSS after the warm-up calls
	HWMKB         int     `json:"hwm_kb"`          // VmHWM: the peak resident size so far
	WarmupCalls   int     `json:"warmup_calls"`
}

func main() {
	bin := flag.String("bin", "", "topicd `binary` to start")
	calls := flag.Int("warmup", 2000, "Classify calls after ready, before the second RSS reading")
	data := flag.String("data", "", "JSON `file` with an array of ClassifyRequests for the warm-up")
	flag.Parse()
	if err := run(*bin, *calls, *data, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "startprobe:", err)
		os.Exit(1)
	}
}

func run(bin string, calls int, dataFile string, extra []string) error {
	if bin == "" || dataFile == "" {
		return errors.New("-bin and -data are required")
	}
	reqs, err := readRequests(dataFile)
	if err != nil {
		return err
	}
	addr, err := freeAddr()
	if err != nil {
		return err
	}

	var logBuf syncBuffer
	cmd := exec.Command(bin, append([]string{"--listen", addr, "--http-listen", "127.0.0.1:0"}, extra...)...)
	cmd.Stderr = &logBuf
	// If the probe dies without its deferred stop, the kernel stops topicd: no server outlives it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	pid := cmd.Process.Pid

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if ctx.Err() != nil {
			return fmt.Errorf("topicd never accepted on %s: %w; log:\n%s", addr, err, logBuf.String())
		}
		time.Sleep(200 * time.Microsecond)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	health := healthpb.NewHealthClient(conn)
	for {
		resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true))
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			break
		}
		if ctx.Err() != nil {
			return fmt.Errorf("health never SERVING: %v; log:\n%s", err, logBuf.String())
		}
		time.Sleep(200 * time.Microsecond)
	}
	res := result{ReadyMS: float64(time.Since(start).Microseconds()) / 1000, WarmupCalls: calls}
	if res.RSSReadyKB, err = procStatus(pid, "VmRSS"); err != nil {
		return err
	}

	cl := topicdv1.NewClassifierServiceClient(conn)
	for i := range calls {
		if _, err := cl.Classify(ctx, reqs[i%len(reqs)]); err != nil {
			return fmt.Errorf("warm-up call %d: %w", i, err)
		}
	}
	if res.RSSWarmKB, err = procStatus(pid, "VmRSS"); err != nil {
		return err
	}
	if res.HWMKB, err = procStatus(pid, "VmHWM"); err != nil {
		return err
	}
	if m := regexp.MustCompile(`"ready_ms":(\d+)`).FindStringSubmatch(logBuf.String()); m != nil {
		res.ServerReadyMS, _ = strconv.Atoi(m[1])
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// freeAddr returns a 127.0.0.1 address with a port nobody listens on right now. topicd could take
// port 0 and log the port it got, but then the probe would be timing the log.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// procStatus reads one "Name:   123 kB" field of /proc/PID/status, in kB.
func procStatus(pid int, field string) (int, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if ok && name == field {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no %s", pid, field)
}

// syncBuffer is a bytes.Buffer the child's stderr copier and the probe can share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func readRequests(file string) ([]*topicdv1.ClassifyRequest, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(b, &raws); err != nil {
		return nil, fmt.Errorf("%s: want a JSON array of ClassifyRequests: %w", file, err)
	}
	reqs := make([]*topicdv1.ClassifyRequest, len(raws))
	for i, r := range raws {
		reqs[i] = new(topicdv1.ClassifyRequest)
		if err := protojson.Unmarshal(r, reqs[i]); err != nil {
			return nil, fmt.Errorf("%s: request %d: %w", file, i, err)
		}
	}
	if len(reqs) == 0 {
		return nil, fmt.Errorf("%s: no request", file)
	}
	return reqs, nil
}
