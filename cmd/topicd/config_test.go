package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestParseConfigDefaults(t *testing.T) {
	cfg, err := parseConfig(nil, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Config{}).withDefaults(); cfg != want {
		t.Errorf("parseConfig() = %+v, want the zero Config's defaults %+v", cfg, want)
	}
	if cfg.Listen != ":50051" || cfg.MaxDocumentBytes != 1<<20 || cfg.DefaultModel != "news-topics" || cfg.KeepaliveNoStreamDeny {
		t.Errorf("defaults = %+v", cfg)
	}
}

func TestParseConfigEnvAndFlags(t *testing.T) {
	e := env(map[string]string{
		"TOPICD_LISTEN":                          "127.0.0.1:1",
		"TOPICD_MAX_DOCUMENT_BYTES":              "2048",
		"TOPICD_SHUTDOWN_TIMEOUT":                "3s",
		"TOPICD_DRAIN_DELAY":                     "1s",
		"TOPICD_LOG_FORMAT":                      "text",
		"TOPICD_LOG_LEVEL":                       "debug",
		"TOPICD_BENCH_FLOOR":                     "true",
		"TOPICD_KEEPALIVE_PERMIT_WITHOUT_STREAM": "false",
	})
	cfg, err := parseConfig([]string{"--listen", "127.0.0.1:2", "--max-batch-documents=7"}, e, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:2" {
		t.Errorf("Listen = %q, want the flag's 127.0.0.1:2 over the environment's", cfg.Listen)
	}
	if cfg.MaxDocumentBytes != 2048 || cfg.MaxBatchDocuments != 7 || cfg.ShutdownTimeout != 3*time.Second || cfg.DrainDelay != time.Second ||
		cfg.LogFormat != "text" || cfg.LogLevel.String() != "DEBUG" || !cfg.BenchFloor || !cfg.KeepaliveNoStreamDeny {
		t.Errorf("parseConfig = %+v", cfg)
	}
}

// TestKeepaliveParams checks the connection age limit as the flags and environment set it.
func TestKeepaliveParams(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		age, grace time.Duration
	}{
		{"defaults", nil, nil, 5 * time.Minute, 10 * time.Second},
		{"grace follows the shutdown timeout", []string{"--shutdown-timeout", "30s"}, nil, 5 * time.Minute, 30 * time.Second},
		{"environment", nil, map[string]string{"TOPICD_MAX_CONNECTION_AGE": "1h", "TOPICD_MAX_CONNECTION_AGE_GRACE": "2m"}, time.Hour, 2 * time.Minute},
		{"flags", []string{"--max-connection-age", "90s", "--max-connection-age-grace", "5s"}, map[string]string{"TOPICD_MAX_CONNECTION_AGE": "1h"}, 90 * time.Second, 5 * time.Second},
		// grpc's zero value is "infinity".
		{"never", []string{"--max-connection-age", "-1s", "--max-connection-age-grace", "5s"}, nil, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseConfig(tt.args, env(tt.env), &bytes.Buffer{})
			if err != nil {
				t.Fatal(err)
			}
			kp := keepaliveParams(cfg)
			if kp.MaxConnectionAge != tt.age || kp.MaxConnectionAgeGrace != tt.grace {
				t.Errorf("keepaliveParams(%q, %v) = age %s grace %s, want %s and %s", tt.args, tt.env, kp.MaxConnectionAge, kp.MaxConnectionAgeGrace, tt.age, tt.grace)
			}
			if kp.Time != time.Minute || kp.Timeout != 20*time.Second {
				t.Errorf("keepaliveParams: pings every %s with timeout %s, want 1m0s and 20s", kp.Time, kp.Timeout)
			}
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--max-document-bytes", "-5"}, nil, "--max-document-bytes: must be between 1 and 67108864, got -5"},
		{[]string{"--max-batch-documents", "0"}, nil, "--max-batch-documents: must be between 1 and 100000, got 0"},
		{[]string{"--max-message-bytes", "1000"}, nil, "--max-message-bytes: must be at least --max-document-bytes"},
		{[]string{"--log-format", "xml"}, nil, `--log-format: must be json or text, got "xml"`},
		{[]string{"--log-level", "loud"}, nil, `--log-level: must be debug, info, warn or error, got "loud"`},
		{[]string{"--default-timeout", "0s"}, nil, "--default-timeout: must be a positive duration"},
		{[]string{"--tls-cert", "c.pem"}, nil, "--tls-cert and --tls-key: set both or neither"},
		{[]string{"--tls-client-ca", "ca.pem"}, nil, "--tls-client-ca: needs --tls-cert"},
		{[]string{"--reload-interval", "0s"}, nil, "--reload-interval"},
		{[]string{"--max-connection-age", "0s"}, nil, "--max-connection-age: must be positive and at most 720h0m0s, or negative for never"},
		{[]string{"--max-connection-age-grace", "-1s"}, nil, "--max-connection-age-grace: must be between 0s and 24h0m0s, got -1s"},
		{[]string{"--shutdown-timeout", "soon"}, nil, `invalid value "soon" for flag -shutdown-timeout`},
		{[]string{"extra"}, nil, `unexpected argument "extra"`},
		// Upper bounds: values a flag type accepts that would kill or swamp the server.
		{[]string{"--stream-window", "10000000000"}, nil, "--stream-window: must be between 1 and 4096, got 10000000000"},
		{[]string{"--stream-workers", "100000"}, nil, "--stream-workers: must be between 0 and 64, got 100000"},
		{[]string{"--stream-window-bytes", "1073741824"}, nil, "--stream-window-bytes: must be between 1 and 268435456"},
		{[]string{"--max-document-bytes", "1073741824", "--max-message-bytes", "2147483648"}, nil, "--max-document-bytes: must be between 1 and 67108864"},
		{[]string{"--max-message-bytes", "2147483648"}, nil, "--max-message-bytes: must be between 1 and 268435456"},
		{[]string{"--max-batch-documents", "1000000"}, nil, "--max-batch-documents: must be between 1 and 100000"},
		{[]string{"--max-concurrent-streams", "4294967297"}, nil, "--max-concurrent-streams: must be between 1 and 10000"},
		{[]string{"--max-model-bytes", "0"}, nil, "--max-model-bytes: must be between 1 and 4294967296, got 0"},
		{[]string{"--max-model-bytes", "5000000000"}, nil, "--max-model-bytes: must be between 1 and 4294967296"},
		{[]string{"--max-buffered-bytes", "0"}, nil, "--max-buffered-bytes: must be between 1 and 17179869184, got 0"},
		{[]string{"--max-buffered-bytes", "100000000000"}, nil, "--max-buffered-bytes: must be between 1 and 17179869184"},
		{[]string{"--shutdown-timeout", "1000h"}, nil, "--shutdown-timeout: must be a positive duration such as 30s, at most 1h0m0s"},
		{[]string{"--default-timeout", "1000h"}, nil, "--default-timeout: must be a positive duration such as 30s, at most 24h0m0s"},
		{[]string{"--keepalive-min-time", "1000h"}, nil, "--keepalive-min-time: must be a positive duration such as 30s, at most 24h0m0s"},
		{[]string{"--reload-interval", "1000h"}, nil, "--reload-interval: must be positive and at most 24h0m0s"},
		{[]string{"--max-connection-age", "10000h"}, nil, "--max-connection-age: must be positive and at most 720h0m0s"},
		{[]string{"--max-connection-age-grace", "1000h"}, nil, "--max-connection-age-grace: must be between 0s and 24h0m0s"},
		{[]string{"--drain-delay", "-1s"}, nil, "--drain-delay: must be between 0s and 1h0m0s, got -1s"},
		{[]string{"--drain-delay", "2h", "--shutdown-timeout", "1h"}, nil, "--drain-delay: must be between 0s and 1h0m0s, got 2h0m0s"},
		{[]string{"--drain-delay", "10s"}, nil, "--drain-delay: must be shorter than --shutdown-timeout (10s), of which it is a part, got 10s"},
		{nil, map[string]string{"TOPICD_DRAIN_DELAY": "30s", "TOPICD_SHUTDOWN_TIMEOUT": "20s"}, "--drain-delay: must be shorter than --shutdown-timeout (20s)"},
		{nil, map[string]string{"TOPICD_MAX_DOCUMENT_BYTES": "lots"}, `TOPICD_MAX_DOCUMENT_BYTES="lots"`},
		{nil, map[string]string{"TOPICD_MAX_CONCURRENT_STREAMS": "0"}, "--max-concurrent-streams: must be between 1 and 10000, got 0"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, err := parseConfig(tt.args, env(tt.env), &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("parseConfig(%q, %v) = %v, want an error containing %q", tt.args, tt.env, err, tt.want)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	var out bytes.Buffer
	_, err := parseConfig([]string{"--help"}, env(nil), &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("parseConfig(--help) = %v, want flag.ErrHelp", err)
	}
	help := out.String()
	for _, want := range []string{
		"TOPICD_LISTEN", "TOPICD_MODEL_DIR", "TOPICD_DEFAULT_MODEL", "TOPICD_MAX_DOCUMENT_BYTES", "TOPICD_MAX_BATCH_DOCUMENTS",
		"TOPICD_MAX_MESSAGE_BYTES", "TOPICD_MAX_CONCURRENT_STREAMS", "TOPICD_KEEPALIVE_MIN_TIME", "TOPICD_KEEPALIVE_PERMIT_WITHOUT_STREAM",
		"TOPICD_DEFAULT_TIMEOUT", "TOPICD_SHUTDOWN_TIMEOUT", "TOPICD_METRICS_LISTEN", "TOPICD_LOG_FORMAT", "TOPICD_LOG_LEVEL",
		"TOPICD_TLS_CERT", "TOPICD_TLS_KEY", "TOPICD_TLS_CLIENT_CA", "TOPICD_RELOAD_INTERVAL", "TOPICD_BENCH_FLOOR",
		"TOPICD_MAX_CONNECTION_AGE", "TOPICD_MAX_CONNECTION_AGE_GRACE", "--max-connection-age-grace",
		"--drain-delay", "TOPICD_DRAIN_DELAY", `(default "0s"`,
		`(default ":50051"`, `(default "5m0s"`, `(default "1048576"`,
	} {
		if !strings.Contains(help, want) {
			t.Errorf("--help lacks %s:\n%s", want, help)
		}
	}
}

// TestReadmeFlagTable: the README's configuration table lists exactly the flags of --help, with
// their environment variables and defaults.
func TestReadmeFlagTable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := parseConfig([]string{"--help"}, env(nil), &out); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("parseConfig(--help) = %v, want flag.ErrHelp", err)
	}
	// help maps each flag to its "env" and "default" as --help shows them.
	help := map[string][2]string{}
	for _, m := range regexp.MustCompile(`(?m)^  --([a-z0-9-]+).*\n.*\n\s+\(default (.*); env (\w+)\)$`).FindAllStringSubmatch(out.String(), -1) {
		help[m[1]] = [2]string{m[3], strings.Trim(m[2], `"`)}
	}
	if len(help) < 30 {
		t.Fatalf("found %d flags in --help, want every one:\n%s", len(help), out.String())
	}
	code := regexp.MustCompile("`([^`]*)`")
	seen := map[string]bool{}
	for _, line := range strings.Split(string(readme), "\n") {
		if !strings.HasPrefix(line, "| `--") {
			continue
		}
		cols := strings.Split(line, " | ")
		if len(cols) < 4 {
			t.Errorf("README table row %q has fewer than 4 columns", line)
			continue
		}
		flags, envs := code.FindAllStringSubmatch(cols[0], -1), code.FindAllStringSubmatch(cols[1], -1)
		if len(flags) != len(envs) {
			t.Errorf("README table row %q: %d flags, %d environment variables", line, len(flags), len(envs))
			continue
		}
		for i, f := range flags {
			name := strings.TrimPrefix(f[1], "--")
			seen[name] = true
			h, ok := help[name]
			if !ok {
				t.Errorf("README lists --%s, which --help does not", name)
				continue
			}
			if envs[i][1] != h[0] {
				t.Errorf("README: --%s reads %s, --help says %s", name, envs[i][1], h[0])
			}
			def := code.FindStringSubmatch(cols[2])
			if def == nil || h[1] == "none" {
				continue // "none", "off", "the shutdown timeout": said in words
			}
			rd, err1 := time.ParseDuration(def[1])
			hd, err2 := time.ParseDuration(h[1])
			if err1 == nil && err2 == nil && rd == hd || def[1] == h[1] {
				continue
			}
			t.Errorf("README: --%s defaults to %s, --help says %s", name, def[1], h[1])
		}
	}
	for name := range help {
		if !seen[name] && name != "help" {
			t.Errorf("--help has --%s, which the README's table lacks", name)
		}
	}
}
