package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/release"
)

// S3Config says which bucket to use. Credentials come from AccessKey and
// SecretKey when set, otherwise from the usual AWS chain (AWS_ACCESS_KEY_ID,
// shared config files, instance roles...).
type S3Config struct {
	Bucket    string
	Region    string // default us-east-1
	Endpoint  string // e.g. http://127.0.0.1:7070 for an S3-compatible store; empty: AWS
	PathStyle bool   // bucket in the path, not the host name (most S3-compatible stores)
	AccessKey string
	SecretKey string
	// PublicEndpoint is the endpoint clients reach, named in presigned URLs
	// (http://s3:7070 inside compose is not reachable from outside); empty:
	// Endpoint. The signature covers the host, so the store must answer on
	// this name (a proxy in front of it passes the Host header through).
	PublicEndpoint string
}

// S3 is a release.BlobStore in an S3 bucket.
type S3 struct {
	client  *s3.Client
	presign *s3.PresignClient
	bucket  string
}

var _ release.BlobStore = (*S3)(nil)

// NewS3 builds the client. It does not contact the store: Check does.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("blob: an S3 bucket is required")
	}
	for name, e := range map[string]string{"endpoint": cfg.Endpoint, "public endpoint": cfg.PublicEndpoint} {
		if e == "" {
			continue
		}
		if u, err := url.Parse(e); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			return nil, fmt.Errorf("blob: the S3 %s must be an http(s)://host[:port] URL, not %q", name, e)
		}
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	opts := []func(*config.LoadOptions) error{config.WithRegion(cfg.Region)}
	if cfg.AccessKey != "" || cfg.SecretKey != "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, "")))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("blob: AWS configuration: %w", err)
	}
	clientFor := func(endpoint string) *s3.Client {
		return s3.NewFromConfig(awsCfg, func(o *s3.Options) {
			if endpoint != "" {
				o.BaseEndpoint = aws.String(endpoint)
			}
			o.UsePathStyle = cfg.PathStyle
			// Presigned URLs must not carry checksum parameters the uploader
			// cannot know in advance; finalize checks SHA-256 itself.
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
			o.RetryMaxAttempts = 2
		})
	}
	client := clientFor(cfg.Endpoint)
	presigner := client
	if cfg.PublicEndpoint != "" {
		presigner = clientFor(cfg.PublicEndpoint)
	}
	return &S3{client: client, presign: s3.NewPresignClient(presigner), bucket: cfg.Bucket}, nil
}

// Check asks the store for the bucket (HeadBucket): the endpoint answers,
// speaks S3, the credentials are accepted and the bucket exists. The server
// runs it at start and in its readiness, so that bad settings show there
// rather than as a 503 on the first publish.
func (s *S3) Check(ctx context.Context) error {
	_, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.bucket})
	if err == nil {
		return nil
	}
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) {
		switch respErr.HTTPStatusCode() {
		case http.StatusNotFound:
			return licensing.Wrap(licensing.EUnavailable, err, fmt.Sprintf("the S3 bucket %q does not exist", s.bucket))
		case http.StatusForbidden, http.StatusUnauthorized:
			return licensing.Wrap(licensing.EUnavailable, err, fmt.Sprintf("the S3 store refuses the credentials for bucket %q", s.bucket))
		}
	}
	return translate(err, "answer for the bucket")
}

// EnsureBucket creates the bucket when it does not exist (tests, first runs
// against a fresh S3-compatible store).
func (s *S3) EnsureBucket(ctx context.Context) error {
	if _, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.bucket}); err == nil {
		return nil
	}
	_, err := s.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &s.bucket})
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return translate(err, "create the bucket")
	}
	return nil
}

// translate maps an S3 failure into the licensing vocabulary.
func translate(err error, what string) error {
	var apiErr smithy.APIError
	var respErr *awshttp.ResponseError
	var netErr net.Error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return licensing.Wrap(licensing.EUnavailable, err, "the blob store did not answer in time")
	case errors.As(err, &respErr) && respErr.HTTPStatusCode() == http.StatusNotFound:
		return licensing.Wrap(licensing.ENotFound, err, "no such object")
	case errors.As(err, &apiErr) && (apiErr.ErrorCode() == "NoSuchKey" || apiErr.ErrorCode() == "NotFound" || apiErr.ErrorCode() == "NoSuchUpload"):
		return licensing.Wrap(licensing.ENotFound, err, "no such object")
	case errors.As(err, &apiErr) && (apiErr.ErrorCode() == "InvalidPart" || apiErr.ErrorCode() == "InvalidPartOrder" || apiErr.ErrorCode() == "EntityTooSmall"):
		return licensing.Wrap(licensing.EInvalid, err, "the store refused the parts")
	case errors.As(err, &respErr) && respErr.HTTPStatusCode() >= 500:
		return licensing.Wrap(licensing.EUnavailable, err, "the blob store failed to "+what)
	case errors.As(err, &netErr):
		return licensing.Wrap(licensing.EUnavailable, err, "the blob store is unreachable")
	}
	var opErr *smithy.OperationError
	switch {
	case errors.As(err, &opErr) && !errors.As(err, &respErr):
		// No HTTP answer at all: connection refused, DNS...
		return licensing.Wrap(licensing.EUnavailable, err, "the blob store is unreachable")
	case errors.As(err, &respErr), errors.As(err, &apiErr):
		// Any other answer of the store (403 AccessDenied from a revoked or
		// expired credential, 429/503 SlowDown, 5xx): the store cannot serve
		// us now; the caller gets 503 with Retry-After, not a 500.
		return licensing.Wrap(licensing.EUnavailable, err, "the blob store failed to "+what)
	}
	return licensing.Wrap(licensing.EInternal, err, "the blob store failed to "+what)
}

// PresignPut signs Content-Length into the URL (SigV4 signs the header), so
// the store refuses a body of any other length.
func (s *S3) PresignPut(ctx context.Context, key string, size int64, ttl time.Duration) (string, error) {
	req, err := s.presign.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: &s.bucket, Key: &key, ContentLength: &size}, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", translate(err, "presign")
	}
	return req.URL, nil
}

func (s *S3) CreateMultipart(ctx context.Context, key string) (string, error) {
	out, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		return "", translate(err, "start a multipart upload")
	}
	return aws.ToString(out.UploadId), nil
}

// PresignPart signs the part's Content-Length, as PresignPut does.
func (s *S3) PresignPart(ctx context.Context, key, uploadID string, number int, size int64, ttl time.Duration) (string, error) {
	n := int32(number)
	req, err := s.presign.PresignUploadPart(ctx, &s3.UploadPartInput{Bucket: &s.bucket, Key: &key, UploadId: &uploadID, PartNumber: &n, ContentLength: &size},
		s3.WithPresignExpires(ttl))
	if err != nil {
		return "", translate(err, "presign")
	}
	return req.URL, nil
}

func (s *S3) CompleteMultipart(ctx context.Context, key, uploadID string, parts []release.UploadPart) error {
	done := make([]types.CompletedPart, len(parts))
	for i, p := range parts {
		n := int32(p.Number)
		done[i] = types.CompletedPart{PartNumber: &n, ETag: aws.String(p.ETag)}
	}
	_, err := s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &s.bucket, Key: &key, UploadId: &uploadID, MultipartUpload: &types.CompletedMultipartUpload{Parts: done},
	})
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() == "NoSuchUpload" {
		return licensing.Wrap(licensing.EInvalid, err, "no such upload")
	}
	return translate(err, "complete the upload")
}

func (s *S3) AbortMultipart(ctx context.Context, key, uploadID string) error {
	_, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &s.bucket, Key: &key, UploadId: &uploadID})
	return translate(err, "abort the upload")
}

func (s *S3) PresignGet(ctx context.Context, key, filename string, ttl time.Duration) (string, error) {
	in := &s3.GetObjectInput{Bucket: &s.bucket, Key: &key}
	if filename != "" {
		in.ResponseContentDisposition = aws.String(mime.FormatMediaType("attachment", map[string]string{"filename": filename}))
	}
	req, err := s.presign.PresignGetObject(ctx, in, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", translate(err, "presign")
	}
	return req.URL, nil
}

func (s *S3) Stat(ctx context.Context, key string) (int64, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		return 0, translate(err, "read the object")
	}
	return aws.ToInt64(out.ContentLength), nil
}

func (s *S3) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		return nil, translate(err, "read the object")
	}
	return out.Body, nil
}

// maxCopy is S3's largest single CopyObject; larger objects are copied in
// parts of copyPartSize (variables so tests can exercise the part copy).
var (
	maxCopy      int64 = 5 << 30
	copyPartSize int64 = 1 << 30
)

// Move copies src to dst inside the bucket (server side: no bytes pass
// through this process) and deletes src.
func (s *S3) Move(ctx context.Context, src, dst string) error {
	head, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &src})
	if err != nil {
		return translate(err, "read the object")
	}
	size := aws.ToInt64(head.ContentLength)
	// Copy exactly the version that was looked at: a PUT landing meanwhile
	// makes the copy fail instead of mixing versions.
	etag := head.ETag
	source := copySource(s.bucket, src)
	if size <= maxCopy {
		_, err = s.client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &s.bucket, Key: &dst, CopySource: &source, CopySourceIfMatch: etag})
		if err != nil {
			return translate(err, "copy the object")
		}
	} else if err := s.copyParts(ctx, source, dst, size, etag); err != nil {
		return err
	}
	return s.Delete(ctx, src)
}

func (s *S3) copyParts(ctx context.Context, source, dst string, size int64, etag *string) error {
	id, err := s.CreateMultipart(ctx, dst)
	if err != nil {
		return err
	}
	var parts []types.CompletedPart
	for off, n := int64(0), int32(1); off < size; off, n = off+copyPartSize, n+1 {
		end := min(off+copyPartSize, size) - 1
		num := n
		out, err := s.client.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: &s.bucket, Key: &dst, UploadId: &id, PartNumber: &num,
			CopySource: &source, CopySourceIfMatch: etag, CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", off, end))})
		if err != nil {
			_ = s.AbortMultipart(ctx, dst, id)
			return translate(err, "copy the object")
		}
		parts = append(parts, types.CompletedPart{PartNumber: &num, ETag: out.CopyPartResult.ETag})
	}
	_, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &s.bucket, Key: &dst, UploadId: &id, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		_ = s.AbortMultipart(ctx, dst, id)
		return translate(err, "copy the object")
	}
	return nil
}

// copySource is the x-amz-copy-source value: bucket/key, URL-encoded.
func copySource(bucket, key string) string {
	segs := strings.Split(bucket+"/"+key, "/")
	for i := range segs {
		segs[i] = url.PathEscape(segs[i])
		segs[i] = strings.ReplaceAll(segs[i], "+", "%2B")
	}
	return strings.Join(segs, "/")
}

func (s *S3) Delete(ctx context.Context, key string) error {
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &key})
	if licensing.ErrorCode(translate(err, "")) == licensing.ENotFound {
		return nil
	}
	return translate(err, "delete the object")
}
