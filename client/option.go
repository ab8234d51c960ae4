package client

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
)

// Option configures a Client.
type Option func(*options)

type options struct {
	tlsCA, tlsCert, tlsKey, tlsServerName string
	tlsConfig                             *tls.Config
	timeout                               time.Duration
	userAgent                             string
	healthService                         string
	maxAttempts                           int
	maxRecvBytes                          int
	keepalive                             *keepalive.ClientParameters
	extra                                 []grpc.DialOption
}

func defaultOptions() options {
	return options{
		timeout:       30 * time.Second,
		userAgent:     "topicd-go-client/1",
		healthService: "",
		maxAttempts:   4,
		maxRecvBytes:  64 << 20,
	}
}

// WithTLS makes the connection use TLS, trusting the certificate authorities in the PEM file
// caFile; an empty caFile trusts the system's roots. The default is plaintext, which is only
// fit for loopback and trusted networks.
func WithTLS(caFile string) Option {
	return func(o *options) {
		o.tlsCA = caFile
		if o.tlsConfig == nil {
			o.tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
	}
}

// WithClientCertificate presents the certificate and key in the PEM files certFile and keyFile
// to the server, for mutual TLS. It implies WithTLS("") unless WithTLS is also given. The
// default presents none; a server started with --tls-client-ca refuses such clients.
func WithClientCertificate(certFile, keyFile string) Option {
	return func(o *options) {
		o.tlsCert, o.tlsKey = certFile, keyFile
		if o.tlsConfig == nil {
			o.tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
	}
}

// WithTLSServerName sets the name the server's certificate must hold, when it differs from the
// host in the target (for example when dialling an IP address). The default is the target host.
func WithTLSServerName(name string) Option {
	return func(o *options) { o.tlsServerName = name }
}

// WithTLSConfig uses cfg for TLS as is, for settings the other options do not cover. It
// overrides WithTLS, WithClientCertificate and WithTLSServerName.
func WithTLSConfig(cfg *tls.Config) Option {
	return func(o *options) { o.tlsConfig = cfg.Clone(); o.tlsCA, o.tlsCert, o.tlsKey = "", "", "" }
}

// WithTimeout bounds every call whose context has no deadline. The default is 30 seconds; 0
// leaves such calls unbounded. RunBatch bounds each attempt on its own (BatchConfig.CallTimeout).
func WithTimeout(d time.Duration) Option {
	return func(o *options) { o.timeout = d }
}

// WithUserAgent sets the user agent sent with every call, in front of gRPC's own. The default
// is "topicd-go-client/1".
func WithUserAgent(ua string) Option {
	return func(o *options) { o.userAgent = ua }
}

// WithHealthCheckService sets the grpc.health.v1 service name whose status decides whether a
// replica receives calls. The default, "", is the server's overall health, which topicd turns
// to NOT_SERVING when it begins to shut down.
func WithHealthCheckService(name string) Option {
	return func(o *options) { o.healthService = name }
}

// WithMaxAttempts sets how many times gRPC tries a call that fails with UNAVAILABLE before it
// gives up, counting the first try, with exponential backoff from 100 ms to 2 s between tries.
// The default is 4; gRPC caps it at 5. 1 disables retries.
func WithMaxAttempts(n int) Option {
	return func(o *options) { o.maxAttempts = n }
}

// WithKeepalive makes the client ping idle connections so that a dead replica is noticed
// without a call failing on it. The default sends no pings: a server rejects clients that ping
// more often than its keepalive enforcement policy allows (grpc-go's default minimum is five
// minutes), so set this to match the server.
func WithKeepalive(p keepalive.ClientParameters) Option {
	return func(o *options) { o.keepalive = &p }
}

// WithMaxResponseBytes bounds the size of a response message. The default is 64 MiB, enough for
// a ClassifyBatch of thousands of documents with explanations.
func WithMaxResponseBytes(n int) Option {
	return func(o *options) { o.maxRecvBytes = n }
}

// WithDialOptions appends raw gRPC dial options, applied after the client's own.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.extra = append(o.extra, opts...) }
}

// dialOptions turns the options into gRPC dial options, reading certificate files.
func (o *options) dialOptions() ([]grpc.DialOption, error) {
	creds, err := o.credentials()
	if err != nil {
		return nil, err
	}
	sc, err := serviceConfig(o.healthService, o.maxAttempts)
	if err != nil {
		return nil, err
	}
	d := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultServiceConfig(sc),
		grpc.WithUserAgent(o.userAgent),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(o.maxRecvBytes)),
	}
	if o.keepalive != nil {
		d = append(d, grpc.WithKeepaliveParams(*o.keepalive))
	}
	return append(d, o.extra...), nil
}

func (o *options) credentials() (credentials.TransportCredentials, error) {
	if o.tlsConfig == nil {
		return insecure.NewCredentials(), nil
	}
	cfg := o.tlsConfig.Clone()
	if o.tlsCA != "" {
		pem, err := os.ReadFile(o.tlsCA)
		if err != nil {
			return nil, fmt.Errorf("client: read CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("client: CA file %s holds no PEM certificate", o.tlsCA)
		}
		cfg.RootCAs = pool
	}
	if o.tlsCert != "" || o.tlsKey != "" {
		if o.tlsCert == "" || o.tlsKey == "" {
			return nil, fmt.Errorf("client: mutual TLS needs both a certificate and a key file")
		}
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return nil, fmt.Errorf("client: load client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if o.tlsServerName != "" {
		cfg.ServerName = o.tlsServerName
	}
	return credentials.NewTLS(cfg), nil
}
