package ingest

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
)

// Sign is the X-Signature Segment sends for body: lowercase hex HMAC-SHA1. Tests sign
// with it; TestSignatureKnownAnswer pins it to a vector computed by openssl.
func Sign(body []byte, secret string) string {
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}
