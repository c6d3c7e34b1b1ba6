// Package store holds the DynamoDB repositories: events, identities and touches. Each
// takes an injected *dynamodb.Client and its table name.
package store

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// ClientOptions says where DynamoDB is. Endpoint empty means AWS itself.
type ClientOptions struct {
	Region   string
	Endpoint string
	// MaxConns is how many idle connections to DynamoDB are kept for reuse (default
	// 128), so concurrent writes (a webhook batch, an import) reuse connections instead
	// of dialing anew. It does not cap the connections open at once.
	MaxConns int
}

// NewClient builds a DynamoDB client. With a custom endpoint (dynalite, DynamoDB Local)
// it always signs with dummy static credentials, whatever the environment holds: such
// servers check the signature's shape, not its secret, and `make run` needs no AWS
// account. Without one, the SDK's default chain finds the credentials.
func NewClient(ctx context.Context, o ClientOptions) (*dynamodb.Client, error) {
	if o.MaxConns <= 0 {
		o.MaxConns = 128
	}
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns = o.MaxConns
		t.MaxIdleConnsPerHost = o.MaxConns
		t.IdleConnTimeout = 90 * time.Second
	}).WithDialerOptions(func(d *net.Dialer) {
		d.Timeout = 3 * time.Second
	})
	opts := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithRegion(o.Region),
		awsconfig.WithHTTPClient(httpClient),
	}
	if o.Endpoint != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	return dynamodb.NewFromConfig(cfg, func(opt *dynamodb.Options) {
		if o.Endpoint != "" {
			opt.BaseEndpoint = aws.String(o.Endpoint)
		}
	}), nil
}
