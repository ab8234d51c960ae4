package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/topicd/topicd/classifier/training"
	"github.com/topicd/topicd/models"
	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// TestShutdownUnderLoad sends SIGTERM while a stream and unary calls run: health goes
// NOT_SERVING, the stream ends with UNAVAILABLE (which batch clients retry), no call fails with
// another code, and the process exits cleanly well within --shutdown-timeout.
func TestShutdownUnderLoad(t *testing.T) {
	const timeout = 8 * time.Second
	p := startTopicd(t, "--shutdown-timeout", timeout.String())
	ctx := testCtx(t)
	conn := dial(t, p.addr)
	cls := topicdv1.NewClassifierServiceClient(conn)

	watch, err := healthpb.NewHealthClient(conn).Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := watch.Recv(); err != nil || r.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health Watch = %v, %v; want SERVING", r, err)
	}
	healthDone := make(chan []healthpb.HealthCheckResponse_ServingStatus, 1)
	go func() {
		var seen []healthpb.HealthCheckResponse_ServingStatus
		for {
			r, err := watch.Recv()
			if err != nil {
				healthDone <- seen
				return
			}
			seen = append(seen, r.Status)
		}
	}()

	stream, err := cls.ClassifyStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for i := 0; ; i++ {
			if stream.Send(&topicdv1.ClassifyStreamRequest{Document: &topicdv1.Document{Id: fmt.Sprint(i), Text: sampleArticle}}) != nil {
				return
			}
		}
	}()
	var answered atomic.Int64
	streamEnd := make(chan error, 1)
	go func() {
		for {
			if _, err := stream.Recv(); err != nil {
				streamEnd <- err
				return
			}
			answered.Add(1)
		}
	}()

	var unaryOK atomic.Int64
	var wg sync.WaitGroup
	var badMu sync.Mutex
	var bad []error
	stopUnary := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stopUnary:
					return
				default:
				}
				_, err := cls.Classify(ctx, &topicdv1.ClassifyRequest{Document: &topicdv1.Document{Text: sampleArticle}})
				switch status.Code(err) {
				case codes.OK:
					unaryOK.Add(1)
				case codes.Unavailable: // the server is gone or going: clients retry elsewhere
				default:
					badMu.Lock()
					bad = append(bad, err)
					badMu.Unlock()
				}
			}
		}()
	}
	for deadline := time.Now().Add(30 * time.Second); answered.Load() < 200 || unaryOK.Load() < 50; {
		if time.Now().After(deadline) {
			t.Fatalf("load did not start: %d streamed, %d unary", answered.Load(), unaryOK.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}

	sigAt := time.Now()
	if err := p.stop(t, syscall.SIGTERM, timeout+5*time.Second); err != nil {
		t.Errorf("topicd exit after SIGTERM = %v, want success", err)
	}
	t.Logf("exited %v after SIGTERM", time.Since(sigAt))
	close(stopUnary)
	wg.Wait()

	select {
	case err := <-streamEnd:
		if status.Code(err) != codes.Unavailable {
			t.Errorf("stream ended with %v, want UNAVAILABLE", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("stream did not end after shutdown")
	}
	select {
	case seen := <-healthDone:
		if len(seen) == 0 || seen[0] != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Errorf("health Watch saw %v after SIGTERM, want NOT_SERVING", seen)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("health Watch did not end after shutdown")
	}
	if len(bad) > 0 {
		t.Errorf("%d unary calls failed with a code other than UNAVAILABLE, first: %v", len(bad), bad[0])
	}
}

// TestReloadOnSIGHUP replaces a model file with polling off and reloads it with SIGHUP.
func TestReloadOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "custom.model")
	if err := os.WriteFile(path, models.DefaultModelFile(), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startTopicd(t, "--model-dir", dir, "--reload-interval", "-1s")
	ctx := testCtx(t)
	ms := topicdv1.NewModelServiceClient(dial(t, p.addr))
	before, err := ms.GetModel(ctx, &topicdv1.GetModelRequest{Name: "custom"})
	if err != nil {
		t.Fatal(err)
	}

	var ex []training.Example
	for i, l := range training.DefaultLabels {
		ex = append(ex, training.Example{ID: fmt.Sprint(i), Label: l, Text: l + " words for a tiny model"})
	}
	m, err := training.Train(ex, training.Config{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Encode(f); err != nil {
		t.Fatal(err)
	}
	f.Close()

	p.cmd.Process.Signal(syscall.SIGHUP)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		got, err := ms.GetModel(ctx, &topicdv1.GetModelRequest{Name: "custom"})
		if err != nil {
			t.Fatal(err)
		}
		if got.Model.Version == m.Version() {
			if got.Model.Version == before.Model.Version {
				t.Fatal("test model has the default model's version")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after SIGHUP: version %s, want %s", got.Model.Version, m.Version())
		}
	}
}
