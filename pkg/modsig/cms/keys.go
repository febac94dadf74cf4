package cms

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
)

// ParseCertificate reads an X.509 certificate in DER or PEM form (the
// first CERTIFICATE block of a PEM file).
func ParseCertificate(data []byte) (*x509.Certificate, error) {
	if cert, err := x509.ParseCertificate(data); err == nil {
		return cert, nil
	}
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, fmt.Errorf("%w: want a DER or PEM X.509 certificate", ErrNoKey)
		}
		if block.Type == "CERTIFICATE" {
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parse certificate: %w", err)
			}
			return cert, nil
		}
	}
}

// ParsePrivateKey reads a private key in PEM (PKCS#8, PKCS#1 or SEC 1;
// other blocks such as a certificate next to the key are skipped) or DER.
func ParsePrivateKey(data []byte) (crypto.Signer, error) {
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch block.Type {
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
			if _, encrypted := block.Headers["DEK-Info"]; encrypted {
				return nil, fmt.Errorf("%w: the key is encrypted; decrypt it first (openssl pkey -in KEY -out PLAIN)", ErrNoKey)
			}
			return parseKeyDER(block.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, fmt.Errorf("%w: the key is encrypted; decrypt it first (openssl pkey -in KEY -out PLAIN)", ErrNoKey)
		}
	}
	return parseKeyDER(data)
}

func parseKeyDER(der []byte) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("%w: %T", ErrKeyType, k)
		}
		return s, nil
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	return nil, fmt.Errorf("%w: want a PEM or DER private key (PKCS#8, PKCS#1 or SEC 1)", ErrNoKey)
}
