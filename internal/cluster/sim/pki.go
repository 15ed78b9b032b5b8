package sim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// pki is the set of files a cluster's TLS needs, all under one directory.
type pki struct {
	dir string
}

func (p pki) path(name string) string { return filepath.Join(p.dir, name) }

// Files of a cluster's PKI.
const (
	caCert        = "ca.crt"
	caKey         = "ca.key"
	apiserverCert = "apiserver.crt"
	apiserverKey  = "apiserver.key"
	etcdCert      = "etcd.crt"
	etcdKey       = "etcd.key"
	etcdClient    = "apiserver-etcd-client.crt"
	etcdClientKey = "apiserver-etcd-client.key"
	adminCert     = "admin.crt"
	adminKey      = "admin.key"
	saPub         = "sa.pub"
	saKey         = "sa.key"
)

// generatePKI writes a fresh CA and the certificates the control plane needs:
// serving certificates for kube-apiserver and etcd, an etcd client
// certificate for kube-apiserver, an admin client certificate
// (O=system:masters) shared by kubectl and the controllers, and the
// service-account signing key pair. ECDSA P-256 keeps this under a few ms.
func generatePKI(dir string) (pki, error) {
	p := pki{dir: dir}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return p, err
	}
	now := time.Now().Add(-time.Minute)
	notAfter := now.Add(10 * 365 * 24 * time.Hour)

	caPriv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return p, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "testbed-sim-ca"},
		NotBefore:             now,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caPriv.PublicKey, caPriv)
	if err != nil {
		return p, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return p, err
	}
	if err := writeCert(p.path(caCert), caDER); err != nil {
		return p, err
	}
	if err := writeKey(p.path(caKey), caPriv); err != nil {
		return p, err
	}

	localIPs := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.96.0.1")}
	apiserverNames := []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}
	leaf := []struct {
		cert, key string
		cn        string
		org       []string
		usage     []x509.ExtKeyUsage
		dns       []string
		ips       []net.IP
	}{
		{apiserverCert, apiserverKey, "kube-apiserver", nil, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, apiserverNames, localIPs},
		{etcdCert, etcdKey, "etcd", nil, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, []string{"localhost"}, localIPs[:1]},
		{etcdClient, etcdClientKey, "kube-apiserver-etcd-client", nil, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil, nil},
		{adminCert, adminKey, "testbed-admin", []string{"system:masters"}, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil, nil},
	}
	for _, l := range leaf {
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return p, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: serial(),
			Subject:      pkix.Name{CommonName: l.cn, Organization: l.org},
			NotBefore:    now,
			NotAfter:     notAfter,
			KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
			ExtKeyUsage:  l.usage,
			DNSNames:     l.dns,
			IPAddresses:  l.ips,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &priv.PublicKey, caPriv)
		if err != nil {
			return p, fmt.Errorf("sign %s: %w", l.cn, err)
		}
		if err := writeCert(p.path(l.cert), der); err != nil {
			return p, err
		}
		if err := writeKey(p.path(l.key), priv); err != nil {
			return p, err
		}
	}

	saPriv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return p, err
	}
	if err := writeKey(p.path(saKey), saPriv); err != nil {
		return p, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&saPriv.PublicKey)
	if err != nil {
		return p, err
	}
	return p, os.WriteFile(p.path(saPub), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o600)
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	return n
}

func writeCert(path string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
}

func writeKey(path string, k *ecdsa.PrivateKey) error {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return err
	}
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600)
}
