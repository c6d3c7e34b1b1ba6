// Package dashboard serves the web page at GET / that shows the reports, one person's
// journey and the source detector, plus the one API route only the page needs
// (GET /api/detect). The page's HTML, CSS and JavaScript are embedded in the binary and
// hold no data: everything it shows comes from the /api routes, with the API key the
// person types in, so serving the page itself needs no key.
package dashboard

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/attribution-dev/attribution/internal/httpapi"
	"github.com/attribution-dev/attribution/internal/source"
)

// Route paths, as API Gateway and the local server declare them.
const (
	PagePath   = "/"
	AssetPath  = "/assets/{name}"
	DetectPath = "/api/detect"
)

//go:embed static
var static embed.FS

// policy keeps the page to its own origin: a script that tried to load or send anything
// elsewhere would be refused by the browser, whatever the code says.
const policy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// maxDetectInput bounds each detector parameter: query strings are small in practice
// and the detector reads the whole URL.
const maxDetectInput = 16 << 10

// asset is one embedded file, compressed once at start.
type asset struct {
	contentType string
	plain       []byte
	gzipped     []byte
	etag        string
}

// Handler serves the page, its assets and the detector route.
type Handler struct {
	Detector *source.Detector
	Log      *slog.Logger
	assets   map[string]asset // by name under static/; "index.html" is the page
}

// New loads the embedded files.
func New(detector *source.Detector, log *slog.Logger) (*Handler, error) {
	h := &Handler{Detector: detector, Log: log, assets: map[string]asset{}}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		var zipped bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&zipped, gzip.BestCompression)
		if _, err := zw.Write(body); err != nil {
			return err
		}
		if err := zw.Close(); err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = "application/octet-stream"
		}
		h.assets[strings.TrimPrefix(p, "static/")] = asset{
			contentType: ct, plain: body, gzipped: zipped.Bytes(),
			etag: `"` + hex.EncodeToString(sum[:8]) + `"`,
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load embedded dashboard: %w", err)
	}
	return h, nil
}

// Routes are the dashboard's routes: the page and its assets open to anyone, since
// they hold no data, and the detector behind apiKey like every other /api route.
func (h *Handler) Routes(apiKey string) []httpapi.Route {
	return append([]httpapi.Route{
		{Method: http.MethodGet, Path: PagePath, Handler: h.Page},
		{Method: http.MethodGet, Path: AssetPath, Handler: h.Asset},
	}, httpapi.WithAPIKey(apiKey, httpapi.Route{Method: http.MethodGet, Path: DetectPath, Handler: h.Detect})...)
}

// Page serves GET /.
func (h *Handler) Page(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return h.serve(req, "index.html"), nil
}

// Asset serves GET /assets/{name}: the files beside the page, never the page itself.
func (h *Handler) Asset(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	name := httpapi.PathParam(req, "name")
	if name == "index.html" || strings.ContainsAny(name, "/\\") {
		return httpapi.Error(http.StatusNotFound, "no asset "+name), nil
	}
	return h.serve(req, name), nil
}

func (h *Handler) serve(req events.APIGatewayV2HTTPRequest, name string) events.APIGatewayV2HTTPResponse {
	a, ok := h.assets[name]
	if !ok {
		return httpapi.Error(http.StatusNotFound, "no asset "+name)
	}
	headers := map[string]string{
		"Content-Type":            a.contentType,
		"ETag":                    a.etag,
		"Cache-Control":           "no-cache", // revalidate: a new deploy shows at once, an unchanged file costs a 304
		"Content-Security-Policy": policy,
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"Vary":                    "Accept-Encoding",
	}
	if match := httpapi.Header(req, "If-None-Match"); match != "" && strings.Contains(match, a.etag) {
		return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusNotModified, Headers: headers}
	}
	if acceptsGzip(httpapi.Header(req, "Accept-Encoding")) {
		headers["Content-Encoding"] = "gzip"
		// API Gateway passes binary bodies to the client only base64-encoded.
		return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusOK, Headers: headers,
			Body: base64.StdEncoding.EncodeToString(a.gzipped), IsBase64Encoded: true}
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusOK, Headers: headers, Body: string(a.plain)}
}

// acceptsGzip reads Accept-Encoding well enough for browsers and curl: gzip listed,
// and not with q=0.
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}

// DetectResponse answers GET /api/detect: the visit's description, as `attribution
// detect` prints it, and what was asked.
type DetectResponse struct {
	URL         string             `json:"url"`
	Referrer    string             `json:"referrer"`
	Description source.Description `json:"description"`
}

// Detect serves GET /api/detect?url=U&referrer=R; either may be empty, as in
// `attribution detect`.
func (h *Handler) Detect(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	q := req.QueryStringParameters
	for name := range q {
		if name != "url" && name != "referrer" {
			return httpapi.Error(http.StatusBadRequest, "unknown parameter "+name+": use url and referrer"), nil
		}
	}
	pageURL, referrer := q["url"], q["referrer"]
	if len(pageURL) > maxDetectInput || len(referrer) > maxDetectInput {
		return httpapi.Error(http.StatusBadRequest, fmt.Sprintf("url and referrer are limited to %d bytes each", maxDetectInput)), nil
	}
	return httpapi.JSON(http.StatusOK, DetectResponse{URL: pageURL, Referrer: referrer, Description: h.Detector.Detect(pageURL, referrer)}), nil
}
