package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/topicd/topicd/client"
	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// testPKI is a CA with a server and a client certificate, written as PEM files.
type testPKI struct {
	caFile, serverCert, serverKey string
	pool                          *x509.CertPool
	client                        tls.Certificate
	clientCert, clientKey         string // the client certificate as PEM files
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "topicd test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)

	issue := func(serial int64, cn string, usage x509.ExtKeyUsage) (certPEM, keyPEM []byte) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
			DNSNames:     []string{"localhost"},
			IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, _ := x509.MarshalECPrivateKey(key)
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := &testPKI{pool: x509.NewCertPool()}
	p.pool.AddCert(caCert)
	p.caFile = write("ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))
	sc, sk := issue(2, "localhost", x509.ExtKeyUsageServerAuth)
	p.serverCert, p.serverKey = write("server.pem", sc), write("server-key.pem", sk)
	cc, ck := issue(3, "batch-client", x509.ExtKeyUsageClientAuth)
	p.clientCert, p.clientKey = write("client.pem", cc), write("client-key.pem", ck)
	if p.client, err = tls.X509KeyPair(cc, ck); err != nil {
		t.Fatal(err)
	}
	return p
}

func classifyOnce(t *testing.T, conn *grpc.ClientConn) error {
	t.Helper()
	_, err := topicdv1.NewClassifierServiceClient(conn).Classify(testCtx(t), &topicdv1.ClassifyRequest{
		Document: &topicdv1.Document{Text: sampleArticle},
	})
	return err
}

func TestTLS(t *testing.T) {
	pki := newTestPKI(t)
	p := startTopicd(t, "--tls-cert", pki.serverCert, "--tls-key", pki.serverKey)
	tlsConn := dial(t, p.addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pki.pool})))
	if err := classifyOnce(t, tlsConn); err != nil {
		t.Errorf("Classify over TLS = %v", err)
	}
	plain := dial(t, p.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err := classifyOnce(t, plain); status.Code(err) != codes.Unavailable {
		t.Errorf("Classify in plaintext to a TLS server = %v, want UNAVAILABLE", err)
	}
}

func TestMutualTLS(t *testing.T) {
	pki := newTestPKI(t)
	p := startTopicd(t, "--tls-cert", pki.serverCert, "--tls-key", pki.serverKey, "--tls-client-ca", pki.caFile)

	withCert := dial(t, p.addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{
		RootCAs: pki.pool, Certificates: []tls.Certificate{pki.client},
	})))
	if err := classifyOnce(t, withCert); err != nil {
		t.Errorf("Classify with a client certificate = %v", err)
	}
	noCert := dial(t, p.addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pki.pool})))
	if err := classifyOnce(t, noCert); status.Code(err) != codes.Unavailable {
		t.Errorf("Classify without a client certificate = %v, want UNAVAILABLE (refused)", err)
	}
	// The Go client library with the same files.
	c, err := client.New(p.addr, client.WithTLS(pki.caFile), client.WithClientCertificate(pki.clientCert, pki.clientKey))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ClassifyText(testCtx(t), sampleArticle); err != nil {
		t.Errorf("client.ClassifyText over mTLS = %v", err)
	}
	// A certificate from another CA is refused too.
	other := newTestPKI(t)
	wrongCA := dial(t, p.addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{
		RootCAs: pki.pool, Certificates: []tls.Certificate{other.client},
	})))
	if err := classifyOnce(t, wrongCA); status.Code(err) != codes.Unavailable {
		t.Errorf("Classify with a certificate of another CA = %v, want UNAVAILABLE (refused)", err)
	}
}
