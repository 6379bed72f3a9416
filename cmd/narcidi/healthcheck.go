package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"
)

// healthcheck runs `narcidi healthcheck`: one GET of a health URL, exit 0 on
// a 2xx answer. It is the container's HEALTHCHECK, since the image has no
// shell and no curl.
func healthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("narcidi healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	u := fs.String("url", "http://127.0.0.1:8080/readyz", "the URL to GET (the instance's /readyz, or /healthz for liveness)")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	if err := fs.Parse(args); err != nil {
		return usageError{Err: err}
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return usageError{Err: fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s answered %s", *u, resp.Status)
	}
	fmt.Fprintf(stdout, "%s: %s\n", *u, resp.Status)
	return nil
}
