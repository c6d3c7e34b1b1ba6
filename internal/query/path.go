package query

import (
	"net/url"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// pathID returns the {id} path parameter of a route whose path is prefix + {id} + suffix,
// percent-decoded exactly once.
//
// API Gateway HTTP APIs hand Lambda pathParameters already decoded (and, by published
// captures, rawPath too); the local net/http adapter gives decoded parameters and an
// encoded rawPath. Other front ends may leave both encoded. So the parameter and the
// raw path's segment are compared: when they differ, one is the encoding of the other
// and the decoded one is returned; when they agree, the value is returned as given, so
// an id that really contains "%41" is not decoded twice. Decoding uses PathUnescape,
// for which "+" is a plus, never a space.
func pathID(req events.APIGatewayV2HTTPRequest, prefix, suffix string) string {
	param := req.PathParameters["id"]
	seg, ok := rawSegment(req.RawPath, prefix, suffix)
	if !ok || seg == param {
		return param
	}
	if dec, err := url.PathUnescape(seg); err == nil && (dec == param || param == "") {
		return dec
	}
	if dec, err := url.PathUnescape(param); err == nil && dec == seg {
		return seg
	}
	// Neither is the other's encoding (a front end that rewrote the path): trust the
	// router's parameter.
	return param
}

// rawSegment cuts the id out of the raw path. The route's prefix is searched for rather
// than anchored, because a stage name may come before it ("/dev/api/user/...").
func rawSegment(rawPath, prefix, suffix string) (string, bool) {
	i := strings.Index(rawPath, prefix)
	if i < 0 {
		return "", false
	}
	rest := rawPath[i+len(prefix):]
	if suffix != "" {
		if !strings.HasSuffix(rest, suffix) {
			return "", false
		}
		rest = strings.TrimSuffix(rest, suffix)
	}
	return rest, rest != ""
}
