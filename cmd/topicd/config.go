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
	MaxModelBytes  int           // --max-model-bytes, default 256 MiB

	MaxDocumentBytes      int           // --max-document-bytes, default 1 MiB
	MaxBatchDocuments     int           // --max-batch-documents, default 1000
	MaxMessageBytes       int           // --max-message-bytes, default 16 MiB
	MaxConcurrentStreams  int           // --max-concurrent-streams, default 100
	StreamWindow          int           // --stream-window, default 64
	StreamWindowBytes     int           // --stream-window-bytes, default 4 MiB
	StreamWorkers         int           // --stream-workers, default GOMAXPROCS, at most 4
	MaxBufferedBytes      int           // --max-buffered-bytes, default 64 MiB
	KeepaliveMinTime      time.Duration // --keepalive-min-time, default 10s
	KeepaliveNoStreamDeny bool          // set by --keepalive-permit-without-stream=false
	MaxConnectionAge      time.Duration // --max-connection-age, default 5m; negative means never
	MaxConnectionAgeGrace time.Duration // --max-connection-age-grace, default (0) the shutdown timeout

	DefaultTimeout  time.Duration // --default-timeout, default 30s
	ShutdownTimeout time.Duration // --shutdown-timeout, default 10s
	DrainDelay      time.Duration // --drain-delay, default 0; part of ShutdownTimeout

	LogFormat string     // --log-format, default "json"
	LogLevel  slog.Level // --log-level, default info

	TLSCert     string // --tls-cert
	TLSKey      string // --tls-key
	TLSClientCA string // --tls-client-ca

	BenchFloor bool // --bench-floor

	HTTP HTTPConfig // the HTTP/JSON front: --http-* flags

	MaxHTMLBytes int // --max-html-bytes, default 4 MiB
}

// HTTPConfig is the HTTP/JSON front's part of Config. The zero value is the default.
type HTTPConfig struct {
	// Listen is --http-listen, default ":8080". Set to empty (--http-listen= or
	// TOPICD_HTTP_LISTEN=) it turns the front off; off is the field Off, so that the zero value
	// stays the default.
	Listen            string
	Off               bool
	ReadHeaderTimeout time.Duration // --http-read-header-timeout, default 10s
	ReadTimeout       time.Duration // --http-read-timeout, default 1m
	IdleTimeout       time.Duration // --http-idle-timeout, default 2m
	CORSOrigins       string        // --http-cors-origins, default "" (no CORS)
}

// Defaults of HTTPConfig, and bounds for its timeouts: long enough for a slow network, short
// enough that a client that sends nothing cannot hold a connection for long.
const (
	defaultHTTPListen            = ":8080"
	defaultHTTPReadHeaderTimeout = 10 * time.Second
	defaultHTTPReadTimeout       = time.Minute
	defaultHTTPIdleTimeout       = 2 * time.Minute
	maxHTTPTimeout               = time.Hour
)

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
	setInt(&c.MaxBufferedBytes, server.DefaultMaxBufferedBytes)
	setInt(&c.MaxModelBytes, server.DefaultMaxModelBytes)
	setDur(&c.KeepaliveMinTime, defaultKeepaliveMinTime)
	setDur(&c.MaxConnectionAge, defaultMaxConnectionAge)
	setDur(&c.DefaultTimeout, server.DefaultTimeout)
	setDur(&c.ShutdownTimeout, defaultShutdownTimeout)
	if !c.HTTP.Off {
		set(&c.HTTP.Listen, defaultHTTPListen)
	}
	setInt(&c.MaxHTMLBytes, server.DefaultMaxHTMLBytes)
	setDur(&c.HTTP.ReadHeaderTimeout, defaultHTTPReadHeaderTimeout)
	setDur(&c.HTTP.ReadTimeout, defaultHTTPReadTimeout)
	setDur(&c.HTTP.IdleTimeout, defaultHTTPIdleTimeout)
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
	num(&c.MaxModelBytes, "max-model-bytes", "TOPICD_MAX_MODEL_BYTES", "largest model file in `bytes`; a larger *.model file is not read and gets a load error")
	num(&c.MaxDocumentBytes, "max-document-bytes", "TOPICD_MAX_DOCUMENT_BYTES", "largest document (title and text) in `bytes`; larger ones get INVALID_ARGUMENT")
	num(&c.MaxBatchDocuments, "max-batch-documents", "TOPICD_MAX_BATCH_DOCUMENTS", "most documents in one ClassifyBatch call")
	num(&c.MaxMessageBytes, "max-message-bytes", "TOPICD_MAX_MESSAGE_BYTES", "largest gRPC message received or sent, in `bytes`; at least max-document-bytes + 64 KiB")
	num(&c.MaxConcurrentStreams, "max-concurrent-streams", "TOPICD_MAX_CONCURRENT_STREAMS", "most concurrent calls (streams) per client connection")
	num(&c.StreamWindow, "stream-window", "TOPICD_STREAM_WINDOW", "most documents of one ClassifyStream received and not yet answered; when full the server stops reading")
	num(&c.StreamWindowBytes, "stream-window-bytes", "TOPICD_STREAM_WINDOW_BYTES", "most document `bytes` of one ClassifyStream received and not yet answered (plus one document)")
	num(&c.StreamWorkers, "stream-workers", "TOPICD_STREAM_WORKERS", "documents of one ClassifyStream, or of one ClassifyBatch of 16 or more that runs alone, classified at once; 0 means the number of CPUs, at most 4")
	num(&c.MaxBufferedBytes, "max-buffered-bytes", "TOPICD_MAX_BUFFERED_BYTES", "most `bytes` of ClassifyStream documents and answers the whole server holds between receiving and answering; when reached, streams stop reading and HTTP/2 flow control pushes back on their clients")
	dur(&c.KeepaliveMinTime, "keepalive-min-time", "TOPICD_KEEPALIVE_MIN_TIME", "shortest interval between client keepalive pings; a client pinging more often is disconnected")
	boolean(&permitNoStream, "keepalive-permit-without-stream", "TOPICD_KEEPALIVE_PERMIT_WITHOUT_STREAM", "allow client keepalive pings on connections with no open call")
	dur(&c.MaxConnectionAge, "max-connection-age", "TOPICD_MAX_CONNECTION_AGE", "close each client connection after about this long (gRPC adds up to 10% jitter) with a GOAWAY, so clients reconnect and re-resolve DNS, finding new replicas behind a headless Service; negative means never")
	dur(&c.MaxConnectionAgeGrace, "max-connection-age-grace", "TOPICD_MAX_CONNECTION_AGE_GRACE", "how long calls in flight on a connection past --max-connection-age may take to finish before it is cut; 0 means --shutdown-timeout")
	dur(&c.DefaultTimeout, "default-timeout", "TOPICD_DEFAULT_TIMEOUT", "deadline for unary calls that arrive without one (streams get none)")
	dur(&c.ShutdownTimeout, "shutdown-timeout", "TOPICD_SHUTDOWN_TIMEOUT", "on SIGINT/SIGTERM, how long topicd may take to exit: the --drain-delay, then the time calls in flight get to finish before they are cut (at most 1h)")
	dur(&c.DrainDelay, "drain-delay", "TOPICD_DRAIN_DELAY", "on SIGINT/SIGTERM, how long to go on taking new calls on both ports while /readyz answers 503 and gRPC health says NOT_SERVING, so load balancers stop sending before any call is refused; part of --shutdown-timeout, and shorter than it")
	str(&c.LogFormat, "log-format", "TOPICD_LOG_FORMAT", "log `format`: json or text")
	str(&logLevel, "log-level", "TOPICD_LOG_LEVEL", "log `level`: debug, info, warn or error")
	str(&c.TLSCert, "tls-cert", "TOPICD_TLS_CERT", "PEM certificate `file`; with --tls-key, serve TLS instead of plaintext")
	str(&c.TLSKey, "tls-key", "TOPICD_TLS_KEY", "PEM private key `file` for --tls-cert")
	str(&c.TLSClientCA, "tls-client-ca", "TOPICD_TLS_CLIENT_CA", "PEM CA `file`; when set, clients must present a certificate it signed (mutual TLS)")
	boolean(&c.BenchFloor, "bench-floor", "TOPICD_BENCH_FLOOR", "also serve topicd.bench.v1.FloorService, a do-nothing call for load-test baselines")
	num(&c.MaxHTMLBytes, "max-html-bytes", "TOPICD_MAX_HTML_BYTES", "largest HTML document (title and page) in `bytes`, before its article is extracted; the extracted text must then fit --max-document-bytes")
	httpListen := httpListenValue{&c.HTTP}
	fs.Var(httpListen, "http-listen", "`address` to serve the API as HTTP/JSON on, with /openapi.json, /healthz, /readyz and a page at /; empty turns HTTP off")
	settings = append(settings, setting{"http-listen", "TOPICD_HTTP_LISTEN", ""})
	dur(&c.HTTP.ReadHeaderTimeout, "http-read-header-timeout", "TOPICD_HTTP_READ_HEADER_TIMEOUT", "how long an HTTP client may take to send a request's headers (at most 1h)")
	dur(&c.HTTP.ReadTimeout, "http-read-timeout", "TOPICD_HTTP_READ_TIMEOUT", "how long an HTTP client may take to send a whole request, body included (at most 1h); the NDJSON stream has none")
	dur(&c.HTTP.IdleTimeout, "http-idle-timeout", "TOPICD_HTTP_IDLE_TIMEOUT", "how long an idle HTTP keep-alive connection is kept open (at most 1h)")
	str(&c.HTTP.CORSOrigins, "http-cors-origins", "TOPICD_HTTP_CORS_ORIGINS", "comma-separated `origins` (https://news.example.org, or *) whose pages may call the HTTP API from a browser; empty allows none")

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
		v, set := lookupEnv(getenv, s.env)
		if !set || (v == "" && s.flag != "http-listen") {
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

// Upper bounds of the numeric settings. They keep a typo (an extra zero or three) from starting a
// server that dies on its first call or spends its memory on bookkeeping: channels, goroutines
// and buffers are sized from these values.
const (
	maxModelBytesLimit        = 4 << 30
	maxDocumentBytesLimit     = 64 << 20
	maxBatchDocumentsLimit    = 100_000
	maxMessageBytesLimit      = 256 << 20
	maxConcurrentStreamsLimit = 10_000
	maxStreamWindowLimit      = 4096
	maxStreamWindowBytesLimit = 256 << 20
	maxStreamWorkersLimit     = 64
	maxBufferedBytesLimit     = 16 << 30
	maxDurationLimit          = 24 * time.Hour
	maxShutdownTimeoutLimit   = time.Hour
	maxConnectionAgeLimit     = 30 * 24 * time.Hour
)

// validate checks the values a flag type cannot: ranges and combinations.
func (c Config) validate() error {
	var errs []error
	between := func(name string, v int, min, max int64) {
		if int64(v) < min || int64(v) > max {
			errs = append(errs, fmt.Errorf("--%s: must be between %d and %d, got %d", name, min, max, v))
		}
	}
	positive := func(name string, d, max time.Duration) {
		if d <= 0 || d > max {
			errs = append(errs, fmt.Errorf("--%s: must be a positive duration such as 30s, at most %s, got %s", name, max, d))
		}
	}
	between("max-model-bytes", c.MaxModelBytes, 1, maxModelBytesLimit)
	between("max-document-bytes", c.MaxDocumentBytes, 1, maxDocumentBytesLimit)
	between("max-batch-documents", c.MaxBatchDocuments, 1, maxBatchDocumentsLimit)
	between("max-message-bytes", c.MaxMessageBytes, 1, maxMessageBytesLimit)
	between("max-concurrent-streams", c.MaxConcurrentStreams, 1, maxConcurrentStreamsLimit)
	between("stream-window", c.StreamWindow, 1, maxStreamWindowLimit)
	between("stream-window-bytes", c.StreamWindowBytes, 1, maxStreamWindowBytesLimit)
	between("stream-workers", c.StreamWorkers, 0, maxStreamWorkersLimit)
	between("max-buffered-bytes", c.MaxBufferedBytes, 1, maxBufferedBytesLimit)
	if c.MaxMessageBytes >= 1 && c.MaxDocumentBytes >= 1 && c.MaxMessageBytes < c.MaxDocumentBytes+envelope {
		errs = append(errs, fmt.Errorf("--max-message-bytes: must be at least --max-document-bytes + %d (%d), got %d",
			envelope, c.MaxDocumentBytes+envelope, c.MaxMessageBytes))
	}
	positive("keepalive-min-time", c.KeepaliveMinTime, maxDurationLimit)
	positive("default-timeout", c.DefaultTimeout, maxDurationLimit)
	positive("shutdown-timeout", c.ShutdownTimeout, maxShutdownTimeoutLimit)
	switch {
	case c.DrainDelay < 0 || c.DrainDelay > maxShutdownTimeoutLimit:
		errs = append(errs, fmt.Errorf("--drain-delay: must be between 0s and %s, got %s", maxShutdownTimeoutLimit, c.DrainDelay))
	case c.DrainDelay > 0 && c.DrainDelay >= c.ShutdownTimeout:
		// The delay is part of the shutdown timeout: what is left of it is the time calls in
		// flight get to finish.
		errs = append(errs, fmt.Errorf("--drain-delay: must be shorter than --shutdown-timeout (%s), of which it is a part, got %s", c.ShutdownTimeout, c.DrainDelay))
	}
	if c.MaxConnectionAge == 0 || c.MaxConnectionAge > maxConnectionAgeLimit {
		errs = append(errs, fmt.Errorf("--max-connection-age: must be positive and at most %s, or negative for never, got %s", maxConnectionAgeLimit, c.MaxConnectionAge))
	}
	if c.MaxConnectionAgeGrace < 0 || c.MaxConnectionAgeGrace > maxDurationLimit {
		errs = append(errs, fmt.Errorf("--max-connection-age-grace: must be between 0s and %s, got %s", maxDurationLimit, c.MaxConnectionAgeGrace))
	}
	if c.ReloadInterval == 0 || c.ReloadInterval > maxDurationLimit {
		errs = append(errs, fmt.Errorf("--reload-interval: must be positive and at most %s, or negative to disable polling, got %s", maxDurationLimit, c.ReloadInterval))
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
	errs = append(errs, c.HTTP.validate()...)
	between("max-html-bytes", c.MaxHTMLBytes, 1, maxMessageBytesLimit)
	if c.MaxHTMLBytes >= 1 && c.MaxMessageBytes >= 1 && c.MaxMessageBytes < c.MaxHTMLBytes+envelope {
		errs = append(errs, fmt.Errorf("--max-message-bytes: must be at least --max-html-bytes + %d (%d), got %d",
			envelope, c.MaxHTMLBytes+envelope, c.MaxMessageBytes))
	}
	return errors.Join(errs...)
}

// lookupEnv reads an environment variable through getenv, which cannot tell unset from empty;
// an empty value counts as set only for TOPICD_HTTP_LISTEN, where empty turns HTTP off. Such a
// getenv reports an empty variable as set by returning emptyEnv.
func lookupEnv(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	if v == emptyEnv {
		return "", true
	}
	return v, v != ""
}

// emptyEnv is what main's getenv returns for a variable that is set to the empty string.
const emptyEnv = "\x00empty"

// httpListenValue is the --http-listen flag: an address, or empty for no HTTP front.
type httpListenValue struct{ c *HTTPConfig }

func (v httpListenValue) String() string {
	if v.c == nil {
		return defaultHTTPListen
	}
	return v.c.Listen
}

func (v httpListenValue) Set(s string) error {
	v.c.Listen, v.c.Off = s, s == ""
	return nil
}

func (h HTTPConfig) validate() []error {
	var errs []error
	bounded := func(name string, d time.Duration) {
		if d <= 0 || d > maxHTTPTimeout {
			errs = append(errs, fmt.Errorf("--%s: must be a positive duration of at most %s, got %s", name, maxHTTPTimeout, d))
		}
	}
	bounded("http-read-header-timeout", h.ReadHeaderTimeout)
	bounded("http-read-timeout", h.ReadTimeout)
	bounded("http-idle-timeout", h.IdleTimeout)
	if h.ReadHeaderTimeout > h.ReadTimeout && h.ReadTimeout > 0 {
		errs = append(errs, fmt.Errorf("--http-read-header-timeout: must not be longer than --http-read-timeout (%s), got %s", h.ReadTimeout, h.ReadHeaderTimeout))
	}
	for _, o := range h.corsOrigins() {
		if o != "*" && !strings.HasPrefix(o, "http://") && !strings.HasPrefix(o, "https://") {
			errs = append(errs, fmt.Errorf("--http-cors-origins: %q is not an origin; write it as https://host[:port], or * for any", o))
		}
	}
	return errs
}

// corsOrigins splits --http-cors-origins.
func (h HTTPConfig) corsOrigins() []string {
	var out []string
	for _, o := range strings.Split(h.CORSOrigins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, o)
		}
	}
	return out
}
