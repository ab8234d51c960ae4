package main

import (
	"errors"
	"flag"
	"os"
	"time"

	"github.com/topicd/topicd/client"
)

// connFlags are the flags of every command that talks to a server.
type connFlags struct {
	server             string
	tlsCA              string
	tlsCert, tlsKey    string
	tlsServerName      string
	tls, insecurePlain bool
	timeout            time.Duration
}

// defaultServer is the server commands talk to without --server: $TOPICD_SERVER, else the
// default port on this machine.
func defaultServer() string {
	if s := os.Getenv("TOPICD_SERVER"); s != "" {
		return s
	}
	return "localhost:50051"
}

func (c *connFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.server, "server", defaultServer(), "server `address`: host:port, a comma-separated list of them, or a gRPC target such as dns:///topicd:50051; $TOPICD_SERVER sets the default")
	fs.StringVar(&c.tlsCA, "tls-ca", "", "PEM `file` of the CAs that sign the server's certificate; turns TLS on")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "PEM `file` of the client certificate, for mutual TLS; turns TLS on")
	fs.StringVar(&c.tlsKey, "tls-key", "", "PEM `file` of the client certificate's key, for mutual TLS")
	fs.StringVar(&c.tlsServerName, "tls-server-name", "", "`name` the server certificate must hold, when it is not the host in --server")
	fs.BoolVar(&c.tls, "tls", false, "use TLS trusting the system's CAs (implied by --tls-ca and --tls-cert)")
	fs.BoolVar(&c.insecurePlain, "insecure", false, "plaintext, no TLS: the default when no TLS flag is given")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "bound on each call")
}

// dial returns a client for the flags' server.
func (c *connFlags) dial() (*client.Client, error) {
	useTLS := c.tls || c.tlsCA != "" || c.tlsCert != "" || c.tlsKey != ""
	if useTLS && c.insecurePlain {
		return nil, errors.New("--insecure contradicts --tls, --tls-ca, --tls-cert and --tls-key: give one or the other")
	}
	opts := []client.Option{client.WithTimeout(c.timeout), client.WithUserAgent("topicctl/1")}
	if useTLS {
		opts = append(opts, client.WithTLS(c.tlsCA))
		if c.tlsCert != "" || c.tlsKey != "" {
			opts = append(opts, client.WithClientCertificate(c.tlsCert, c.tlsKey))
		}
		if c.tlsServerName != "" {
			opts = append(opts, client.WithTLSServerName(c.tlsServerName))
		}
	}
	return client.New(c.server, opts...)
}
