package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/topicd/topicd/server"
)

// Config is everything topicd can be told. The zero value is the default configuration: every
// zero field means the default documented on its flag.
type Config struct {
	Listen        string // --listen, default ":50051"
	MetricsListen string // --metrics-listen, default "" (no metrics endpoint)

	ModelDir       string        // --model-dir, default "" (only the embedded model)
	DefaultModel   string        // --default-model, default "news-topics"
	ReloadInterval time.Duration // --reload-interval, default 2s; negative disables polling

	MaxDocumentBytes      int           // --max-document-bytes, default 1 MiB
	MaxBatchDocuments     int           // --max-batch-documents, default 1000
	MaxMessageBytes       int           // --max-message-bytes, default 16 MiB
	MaxConcurrentStreams  int           // --max-concurrent-streams, default 100
	StreamWindow          int           // --stream-window, default 64
	StreamWindowBytes     int           // --stream-window-bytes, default 4 MiB
	StreamWorkers         int           // --stream-workers, default GOMAXPROCS, at most 4
	KeepaliveMinTime      time.Duration // --keepalive-min-time, default 10s
	KeepaliveNoStreamDeny bool          // set by --keepalive-permit-without-stream=false
	MaxConnectionAge      time.Duration // --max-connection-age, default 5m; negative means never
	MaxConnectionAgeGrace time.Duration // --max-connection-age-grace, default (0) the shutdown timeout

	DefaultTimeout  time.Duration // --default-timeout, default 30s
	ShutdownTimeout time.Duration // --shutdown-timeout, default 10s

	LogFormat string     // --log-format, default "json"
	LogLevel  slog.Level // --log-level, default info

	TLSCert     string // --tls-cert
	TLSKey      string // --tls-key
	TLSClientCA string // --tls-client-ca

	BenchFloor bool // --bench-floor
}

// Defaults for the zero values of Config.
const (
	defaultListen               = ":50051"
	defaultModelName            = "news-topics"
	defaultReloadInterval       = 2 * time.Second
	defaultMaxMessageBytes      = 16 << 20
	defaultMaxConcurrentStreams = 100
	defaultKeepaliveMinTime     = 10 * time.Second
	defaultMaxConnectionAge     = 5 * time.Minute
	defaultShutdownTimeout      = 10 * time.Second
	defaultLogFormat            = "json"
	// envelope is the room a message needs beyond its document: ids, title, model, options.
	envelope = 64 << 10
)

func (c Config) withDefaults() Config {
	set := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	setInt := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	setDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	set(&c.Listen, defaultListen)
	set(&c.DefaultModel, defaultModelName)
	set(&c.LogFormat, defaultLogFormat)
	setDur(&c.ReloadInterval, defaultReloadInterval)
	setInt(&c.MaxDocumentBytes, server.DefaultMaxDocumentBytes)
	setInt(&c.MaxBatchDocuments, server.DefaultMaxBatchDocuments)
	setInt(&c.MaxMessageBytes, defaultMaxMessageBytes)
	setInt(&c.MaxConcurrentStreams, defaultMaxConcurrentStreams)
	setInt(&c.StreamWindow, server.DefaultStreamWindow)
	setInt(&c.StreamWindowBytes, server.DefaultStreamWindowBytes)
	setDur(&c.KeepaliveMinTime, defaultKeepaliveMinTime)
	setDur(&c.MaxConnectionAge, defaultMaxConnectionAge)
	setDur(&c.DefaultTimeout, server.DefaultTimeout)
	setDur(&c.ShutdownTimeout, defaultShutdownTimeout)
	return c
}

// setting is one flag and its environment variable.
type setting struct {
	flag, env, usage string
}

// parseConfig reads the environment, then the flags, which override it. It returns flag.ErrHelp
// after printing the usage for -h/--help.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	c := Config{}.withDefaults()
	fs := flag.NewFlagSet("topicd", flag.ContinueOnError)
	fs.SetOutput(stderr)

	var settings []setting
	str := func(p *string, name, env, usage string) {
		fs.StringVar(p, name, *p, usage)
		settings = append(settings, setting{name, env, usage})
	}
	num := func(p *int, name, env, usage string) {
		fs.IntVar(p, name, *p, usage)
		settings = append(settings, setting{name, env, usage})
	}
	dur := func(p *time.Duration, name, env, usage string) {
		fs.DurationVar(p, name, *p, usage)
		settings = append(settings, setting{name, env, usage})
	}
	boolean := func(p *bool, name, env, usage string) {
		fs.BoolVar(p, name, *p, usage)
		settings = append(settings, setting{name, env, usage})
	}
	permitNoStream := !c.KeepaliveNoStreamDeny
	logLevel := "info"

	str(&c.Listen, "listen", "TOPICD_LISTEN", "`address` to serve gRPC on; port 0 picks a free port (the startup log line shows it)")
	str(&c.MetricsListen, "metrics-listen", "TOPICD_METRICS_LISTEN", "`address` to serve Prometheus /metrics on over HTTP, e.g. :9090; empty serves no metrics")
	str(&c.ModelDir, "model-dir", "TOPICD_MODEL_DIR", "`folder` whose *.model files are served by name (file name without .model); news-topics.model overrides the embedded model")
	str(&c.DefaultModel, "default-model", "TOPICD_DEFAULT_MODEL", "`name` of the model used when a request names none")
	dur(&c.ReloadInterval, "reload-interval", "TOPICD_RELOAD_INTERVAL", "how often to look for changed model files; SIGHUP reloads at once; negative disables polling")
	num(&c.MaxDocumentBytes, "max-document-bytes", "TOPICD_MAX_DOCUMENT_BYTES", "largest document (title and text) in `bytes`; larger ones get INVALID_ARGUMENT")
	num(&c.MaxBatchDocuments, "max-batch-documents", "TOPICD_MAX_BATCH_DOCUMENTS", "most documents in one ClassifyBatch call")
	num(&c.MaxMessageBytes, "max-message-bytes", "TOPICD_MAX_MESSAGE_BYTES", "largest gRPC message received or sent, in `bytes`; at least max-document-bytes + 64 KiB")
	num(&c.MaxConcurrentStreams, "max-concurrent-streams", "TOPICD_MAX_CONCURRENT_STREAMS", "most concurrent calls (streams) per client connection")
	num(&c.StreamWindow, "stream-window", "TOPICD_STREAM_WINDOW", "most documents of one ClassifyStream received and not yet answered; when full the server stops reading")
	num(&c.StreamWindowBytes, "stream-window-bytes", "TOPICD_STREAM_WINDOW_BYTES", "most document `bytes` of one ClassifyStream received and not yet answered (plus one document)")
	num(&c.StreamWorkers, "stream-workers", "TOPICD_STREAM_WORKERS", "documents of one ClassifyStream, or of one ClassifyBatch of 16 or more that runs alone, classified at once; 0 means the number of CPUs, at most 4")
	dur(&c.KeepaliveMinTime, "keepalive-min-time", "TOPICD_KEEPALIVE_MIN_TIME", "shortest interval between client keepalive pings; a client pinging more often is disconnected")
	boolean(&permitNoStream, "keepalive-permit-without-stream", "TOPICD_KEEPALIVE_PERMIT_WITHOUT_STREAM", "allow client keepalive pings on connections with no open call")
	dur(&c.MaxConnectionAge, "max-connection-age", "TOPICD_MAX_CONNECTION_AGE", "close each client connection after about this long (gRPC adds up to 10% jitter) with a GOAWAY, so clients reconnect and re-resolve DNS, finding new replicas behind a headless Service; negative means never")
	dur(&c.MaxConnectionAgeGrace, "max-connection-age-grace", "TOPICD_MAX_CONNECTION_AGE_GRACE", "how long calls in flight on a connection past --max-connection-age may take to finish before it is cut; 0 means --shutdown-timeout")
	dur(&c.DefaultTimeout, "default-timeout", "TOPICD_DEFAULT_TIMEOUT", "deadline for unary calls that arrive without one (streams get none)")
	dur(&c.ShutdownTimeout, "shutdown-timeout", "TOPICD_SHUTDOWN_TIMEOUT", "on SIGINT/SIGTERM, how long calls in flight may take to finish before they are cut")
	str(&c.LogFormat, "log-format", "TOPICD_LOG_FORMAT", "log `format`: json or text")
	str(&logLevel, "log-level", "TOPICD_LOG_LEVEL", "log `level`: debug, info, warn or error")
	str(&c.TLSCert, "tls-cert", "TOPICD_TLS_CERT", "PEM certificate `file`; with --tls-key, serve TLS instead of plaintext")
	str(&c.TLSKey, "tls-key", "TOPICD_TLS_KEY", "PEM private key `file` for --tls-cert")
	str(&c.TLSClientCA, "tls-client-ca", "TOPICD_TLS_CLIENT_CA", "PEM CA `file`; when set, clients must present a certificate it signed (mutual TLS)")
	boolean(&c.BenchFloor, "bench-floor", "TOPICD_BENCH_FLOOR", "also serve topicd.bench.v1.FloorService, a do-nothing call for load-test baselines")

	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "topicd serves the topicd.v1 gRPC API: it labels news articles by topic.\n\n"+
			"Usage: topicd [flags]\n\nEvery flag can also be set by the environment variable shown; a flag overrides it.\n\n")
		fs.VisitAll(func(f *flag.Flag) {
			name, usage := flag.UnquoteUsage(f)
			def := strconv.Quote(f.DefValue)
			if f.DefValue == "" {
				def = "none"
			}
			fmt.Fprintf(fs.Output(), "  --%s %s\n    \t%s\n    \t(default %s; env %s)\n", f.Name, name, usage, def, envOf(settings, f.Name))
		})
	}

	for _, s := range settings {
		v := getenv(s.env)
		if v == "" {
			continue
		}
		if err := fs.Set(s.flag, v); err != nil {
			return Config{}, fmt.Errorf("%s=%q: %v", s.env, v, cleanFlagError(err))
		}
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q: topicd takes only flags (see --help)", fs.Arg(0))
	}
	c.KeepaliveNoStreamDeny = !permitNoStream
	if err := c.LogLevel.UnmarshalText([]byte(logLevel)); err != nil {
		return Config{}, fmt.Errorf("--log-level: must be debug, info, warn or error, got %q", logLevel)
	}
	return c, c.validate()
}

func envOf(settings []setting, name string) string {
	for _, s := range settings {
		if s.flag == name {
			return s.env
		}
	}
	return ""
}

func cleanFlagError(err error) string {
	s := err.Error()
	if _, after, ok := strings.Cut(s, "parse error"); ok {
		return "not a valid value" + after
	}
	return s
}

// validate checks the values a flag type cannot: ranges and combinations.
func (c Config) validate() error {
	var errs []error
	atLeast := func(name string, v, min int) {
		if v < min {
			errs = append(errs, fmt.Errorf("--%s: must be at least %d, got %d", name, min, v))
		}
	}
	positive := func(name string, d time.Duration) {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("--%s: must be a positive duration such as 30s, got %s", name, d))
		}
	}
	atLeast("max-document-bytes", c.MaxDocumentBytes, 1)
	atLeast("max-batch-documents", c.MaxBatchDocuments, 1)
	atLeast("max-message-bytes", c.MaxMessageBytes, 1)
	atLeast("max-concurrent-streams", c.MaxConcurrentStreams, 1)
	atLeast("stream-window", c.StreamWindow, 1)
	atLeast("stream-window-bytes", c.StreamWindowBytes, 1)
	atLeast("stream-workers", c.StreamWorkers, 0)
	if c.MaxMessageBytes >= 1 && c.MaxDocumentBytes >= 1 && c.MaxMessageBytes < c.MaxDocumentBytes+envelope {
		errs = append(errs, fmt.Errorf("--max-message-bytes: must be at least --max-document-bytes + %d (%d), got %d",
			envelope, c.MaxDocumentBytes+envelope, c.MaxMessageBytes))
	}
	positive("keepalive-min-time", c.KeepaliveMinTime)
	positive("default-timeout", c.DefaultTimeout)
	positive("shutdown-timeout", c.ShutdownTimeout)
	if c.MaxConnectionAge == 0 {
		errs = append(errs, errors.New("--max-connection-age: must be positive, or negative for never, got 0s"))
	}
	if c.MaxConnectionAgeGrace < 0 {
		errs = append(errs, fmt.Errorf("--max-connection-age-grace: must not be negative, got %s", c.MaxConnectionAgeGrace))
	}
	if c.ReloadInterval == 0 {
		errs = append(errs, errors.New("--reload-interval: must be positive, or negative to disable polling, got 0s"))
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		errs = append(errs, fmt.Errorf("--log-format: must be json or text, got %q", c.LogFormat))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key: set both or neither"))
	}
	if c.TLSClientCA != "" && c.TLSCert == "" {
		errs = append(errs, errors.New("--tls-client-ca: needs --tls-cert and --tls-key (mutual TLS runs over TLS)"))
	}
	if c.Listen == "" {
		errs = append(errs, errors.New("--listen: must not be empty"))
	}
	return errors.Join(errs...)
}
