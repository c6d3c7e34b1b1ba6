package httpapi

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// Route binds a handler to an API Gateway route key such as "GET /api/user/{id}".
// The same keys appear in serverless.yml.
type Route struct {
	Method  string
	Path    string
	Handler Handler
}

// Key is the route key API Gateway puts in the request.
func (r Route) Key() string { return r.Method + " " + r.Path }

// MaxRequestBody is what the local server reads at most; API Gateway allows 10 MB.
const MaxRequestBody = 10 << 20

// NewServer serves routes over net/http, handing each request to its handler as the
// API Gateway HTTP API (payload format 2.0) event Lambda would receive, so the local
// stack runs exactly the code that is deployed.
func NewServer(log *slog.Logger, timeout time.Duration, routes ...Route) http.Handler {
	mux := http.NewServeMux()
	for _, rt := range routes {
		pattern := rt.Path
		if pattern == "/" {
			// API Gateway's "GET /" is the root alone; ServeMux's "/" would match every path.
			pattern = "/{$}"
		}
		mux.Handle(rt.Method+" "+pattern, adapt(log, timeout, rt))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeResponse(w, Error(http.StatusNotFound, "no route for "+r.Method+" "+r.URL.Path))
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// ServeMux answers unclean paths ("//events", "/a/../events") with a redirect, and
		// webhook senders count a 3xx as delivered: route the clean path instead.
		// Cleaning the escaped form leaves encoded slashes inside ids alone.
		if esc := r.URL.EscapedPath(); cleanPath(esc) != esc {
			if unescaped, err := url.PathUnescape(cleanPath(esc)); err == nil {
				r2 := r.Clone(r.Context())
				r2.URL.Path, r2.URL.RawPath = unescaped, cleanPath(esc)
				r = r2
			}
		}
		mux.ServeHTTP(w, r)
	})
}

func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	c := path.Clean(p)
	if !strings.HasPrefix(c, "/") {
		c = "/" + c
	}
	return c
}

func adapt(log *slog.Logger, timeout time.Duration, rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		// The body must arrive within the route's timeout too, as behind API Gateway: a
		// client that stalls mid-body would otherwise hold its connection forever. Not
		// every ResponseWriter supports deadlines (httptest's recorder does not).
		_ = http.NewResponseController(w).SetReadDeadline(start.Add(timeout))
		req, err := toAPIGateway(r, rt)
		var resp events.APIGatewayV2HTTPResponse
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			resp = Error(http.StatusRequestEntityTooLarge, fmt.Sprintf("body is larger than %d bytes", tooLarge.Limit))
		case errors.Is(err, os.ErrDeadlineExceeded):
			// The server closes the connection after this answer: the rest of the body
			// cannot be read and discarded.
			resp = Error(http.StatusRequestTimeout, fmt.Sprintf("the request body did not arrive within %s", timeout))
		case err != nil:
			resp = Error(http.StatusBadRequest, "could not read the request body")
		default:
			resp, err = rt.Handler(ctx, req)
			if err != nil {
				// API Gateway answers a handler error with a bare 500; so do we.
				log.ErrorContext(ctx, "handler failed", "route", rt.Key(), "err", err)
				resp = Error(http.StatusInternalServerError, "Internal Server Error")
			}
		}
		writeResponse(w, resp)
		log.InfoContext(ctx, "request", "route", rt.Key(), "status", resp.StatusCode, "duration_ms", time.Since(start).Milliseconds())
	})
}

func toAPIGateway(r *http.Request, rt Route) (events.APIGatewayV2HTTPRequest, error) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxRequestBody))
	if err != nil {
		return events.APIGatewayV2HTTPRequest{}, err
	}
	headers := make(map[string]string, len(r.Header))
	for k, v := range r.Header {
		headers[strings.ToLower(k)] = strings.Join(v, ",")
	}
	query := make(map[string]string, len(r.URL.Query()))
	for k, v := range r.URL.Query() {
		query[k] = strings.Join(v, ",")
	}
	params := map[string]string{}
	for _, name := range pathParamNames(rt.Path) {
		params[name] = r.PathValue(name)
	}
	req := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              rt.Key(),
		RawPath:               r.URL.EscapedPath(),
		RawQueryString:        r.URL.RawQuery,
		Headers:               headers,
		QueryStringParameters: query,
		PathParameters:        params,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:  rt.Key(),
			RequestID: fmt.Sprintf("local-%d", time.Now().UnixNano()),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    r.Method,
				Path:      r.URL.Path,
				Protocol:  r.Proto,
				SourceIP:  r.RemoteAddr,
				UserAgent: r.UserAgent(),
			},
			TimeEpoch: time.Now().UnixMilli(),
		},
	}
	// API Gateway base64-encodes bodies it does not consider text; mimic that for
	// anything that is not valid UTF-8 so handlers decode both paths.
	if utf8.Valid(body) {
		req.Body = string(body)
	} else {
		req.Body, req.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	}
	return req, nil
}

func pathParamNames(path string) []string {
	var names []string
	for _, seg := range strings.Split(path, "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			names = append(names, strings.TrimSuffix(strings.Trim(seg, "{}"), "..."))
		}
	}
	return names
}

func writeResponse(w http.ResponseWriter, resp events.APIGatewayV2HTTPResponse) {
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if decoded, err := base64.StdEncoding.DecodeString(resp.Body); err == nil {
			body = decoded
		}
	}
	status := resp.StatusCode
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// Dispatch serves each request with the route its route key names, so one Lambda can
// serve several routes exactly as they are declared in serverless.yml.
func Dispatch(routes ...Route) Handler {
	byKey := make(map[string]Handler, len(routes))
	for _, rt := range routes {
		byKey[rt.Key()] = rt.Handler
	}
	return func(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		key := req.RouteKey
		if key == "" {
			key = req.RequestContext.RouteKey
		}
		if h, ok := byKey[key]; ok {
			return h(ctx, req)
		}
		return Error(http.StatusNotFound, "no route for "+key), nil
	}
}

// WithAPIKey wraps every route's handler in RequireAPIKey(key, ...).
func WithAPIKey(key string, routes ...Route) []Route {
	out := make([]Route, len(routes))
	for i, rt := range routes {
		out[i] = Route{Method: rt.Method, Path: rt.Path, Handler: RequireAPIKey(key, rt.Handler)}
	}
	return out
}
