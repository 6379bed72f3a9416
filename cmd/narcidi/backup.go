package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nzilacode/narcidicontrole/cli"
	"github.com/nzilacode/narcidicontrole/keys"
	"github.com/nzilacode/narcidicontrole/licensing/i18n"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/wiring"
)

// Backup and restore (README.md, "Backup and restore"). A backup of the
// embedded default is a folder: narcidi.db (an online, consistent copy made
// with VACUUM INTO), blobs/ (the local release files) and backup.json (what
// it holds). The master key is never in it: it is kept apart, and without
// it the signing keys and secrets in the copy do not open.
//
// What the commands say is in the reader's language (cli.Reader; keys
// cli.backup.*); on PostgreSQL they say the pg_dump recipe
// (cli.backup.pg_recipe) instead.

const (
	backupDBFile       = "narcidi.db"
	backupBlobsDir     = "blobs"
	backupManifestFile = "backup.json"
)

// backupManifest is backup.json.
type backupManifest struct {
	CreatedAt time.Time        `json:"created_at"`
	Version   string           `json:"narcidi_version"`
	Revision  string           `json:"narcidi_revision"`
	Schema    int              `json:"schema_version"`
	Counts    map[string]int64 `json:"counts"`
	KIDs      []string         `json:"signing_keys"`
	Blobs     int              `json:"blob_files"`
}

func backupCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	pr := cli.Reader(getenv)
	dir, rest, err := firstArg(pr, args, "backup DIR", "cli.help.backup", stdout)
	if dir == "" || err != nil {
		return err
	}
	cfg, _, err := parseConfig("backup", rest, getenv, stderr)
	if err != nil {
		return err
	}
	if cfg.DatabaseURL != "" {
		return i18n.Say("cli.backup.postgres", "recipe", i18n.Say("cli.backup.pg_recipe"))
	}
	log, err := cfg.Logger(stderr)
	if err != nil {
		return err
	}
	st, err := wiring.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	// The master key is checked first: a backup is only useful with it.
	if _, err := wiring.LoadMaster(ctx, cfg, st, log); err != nil {
		return err
	}
	if err := emptyFolder(dir); err != nil {
		return err
	}
	if err := st.BackupSQLite(ctx, filepath.Join(dir, backupDBFile)); err != nil {
		return i18n.Say("cli.backup.copy_database", "error", err)
	}
	m, err := describeCopy(ctx, dir)
	if err != nil {
		return err
	}
	if cfg.Releases.Backend == "local" {
		if m.Blobs, err = copyTree(blobDir(cfg), filepath.Join(dir, backupBlobsDir)); err != nil {
			return i18n.Say("cli.backup.copy_blobs", "error", err)
		}
	}
	b, _ := json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, backupManifestFile), append(b, '\n'), 0o600); err != nil {
		return err
	}
	fmt.Fprintln(stdout, pr.T("cli.backup.written", "dir", dir, "schema", m.Schema, "counts", countsText(pr, m.Counts), "keys", len(m.KIDs), "files", m.Blobs))
	fmt.Fprintln(stdout, pr.T("cli.backup.reminder", "source", masterKeySource(cfg)))
	if cfg.Releases.Backend != "local" {
		fmt.Fprintln(stdout, pr.T("cli.backup.s3"))
	}
	return nil
}

// describeCopy reads what a backup's database holds, without migrating it.
func describeCopy(ctx context.Context, dir string) (backupManifest, error) {
	b := currentBuild()
	m := backupManifest{CreatedAt: time.Now().UTC().Truncate(time.Second), Version: b.Version, Revision: b.Revision}
	st, err := storage.Open(ctx, storage.Config{DataDir: dir})
	if err != nil {
		return m, err
	}
	defer st.Close()
	sch, err := st.Schema(ctx)
	if err != nil {
		return m, err
	}
	m.Schema = sch.Version
	if m.Counts, err = st.TableCounts(ctx); err != nil {
		return m, err
	}
	ks, err := st.SigningKeys(ctx)
	if err != nil {
		return m, err
	}
	for _, k := range ks {
		m.KIDs = append(m.KIDs, k.KID)
	}
	return m, nil
}

func restoreCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	pr := cli.Reader(getenv)
	from, rest, err := firstArg(pr, args, "restore BACKUP_DIR", "cli.help.restore", stdout)
	if from == "" || err != nil {
		return err
	}
	cfg, _, err := parseConfig("restore", rest, getenv, stderr)
	if err != nil {
		return err
	}
	if cfg.DatabaseURL != "" {
		return i18n.Say("cli.restore.postgres", "recipe", i18n.Say("cli.backup.pg_recipe"))
	}
	src := filepath.Join(from, backupDBFile)
	if _, err := os.Stat(src); err != nil {
		return i18n.Say("cli.restore.not_a_backup", "dir", from, "error", err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return err
	}
	for _, f := range []string{"narcidi.db", "narcidi.db-wal", "narcidi.db-shm"} {
		if _, err := os.Stat(filepath.Join(cfg.DataDir, f)); err == nil {
			return i18n.Say("cli.restore.not_empty", "dir", cfg.DataDir, "file", f)
		}
	}
	if _, err := copyTree(src, filepath.Join(cfg.DataDir, "narcidi.db")); err != nil {
		return err
	}
	blobs := 0
	if _, err := os.Stat(filepath.Join(from, backupBlobsDir)); err == nil {
		if err := emptyFolder(blobDir(cfg)); err != nil {
			return err
		}
		if blobs, err = copyTree(filepath.Join(from, backupBlobsDir), blobDir(cfg)); err != nil {
			return err
		}
	}
	fmt.Fprintln(stdout, pr.T("cli.restore.done", "from", from, "dir", cfg.DataDir, "files", blobs))
	return verifyDatabase(ctx, pr, cfg, cfg.DataDir, stdout)
}

func verifyBackupCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	pr := cli.Reader(getenv)
	dir, rest := "", args
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		dir, rest = args[0], args[1:]
	} else if len(args) > 0 && slices.Contains([]string{"-h", "-help", "--help"}, args[0]) {
		cli.Usage(pr, stdout, "cli.help.verify_backup")
		return nil
	}
	cfg, _, err := parseConfig("verify-backup", rest, getenv, stderr)
	if err != nil {
		return err
	}
	if dir != "" {
		cfg.DatabaseURL = ""
	}
	return verifyDatabase(ctx, pr, cfg, dir, stdout)
}

// verifyDatabase opens the database of cfg (the SQLite file in dir when
// dir is set) without migrating it and checks it as verify-backup says.
func verifyDatabase(ctx context.Context, pr *i18n.Printer, cfg *Config, dir string, stdout io.Writer) error {
	sc := storage.Config{DatabaseURL: cfg.DatabaseURL, DataDir: cfg.DataDir}
	if dir != "" {
		sc = storage.Config{DataDir: dir}
	}
	st, err := storage.Open(ctx, sc)
	if err != nil {
		return err
	}
	defer st.Close()
	sch, err := st.Schema(ctx)
	if err != nil {
		return err
	}
	if sch.Version == 0 {
		return i18n.Say("cli.verify.no_schema")
	}
	if sch.Version > binarySchema.Version && binarySchema.Version < sch.OldestBinary {
		return i18n.Say("cli.verify.too_new", "error", storage.ErrSchemaTooNew, "schema", sch.Version, "oldest", sch.OldestBinary, "binary", binarySchema.Version)
	}
	master, err := backupMasterKey(cfg, dir)
	if err != nil {
		return err
	}
	check, ok, err := st.GetMeta(ctx, wiring.MasterCheckName)
	if err != nil {
		return err
	}
	if ok {
		if err := keys.VerifyMasterCheck(master, check); err != nil {
			return i18n.Say("cli.verify.master_key", "error", err)
		}
	}
	kr, err := keys.OpenStore(wiring.SigningKeyStore(st), master, nil)
	if err != nil {
		return i18n.Say("cli.verify.keys_closed", "error", err)
	}
	active, hasActive := kr.Active()
	if !hasActive {
		return i18n.Say("cli.verify.no_active_key")
	}
	counts, err := st.TableCounts(ctx)
	if err != nil {
		return err
	}
	jwks, err := kr.JWKS()
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, pr.N("cli.verify.done", len(kr.List()), "schema", sch.Version, "binary", binarySchema.Version, "active", active))
	fmt.Fprintf(stdout, "%s\njwks %s\n", countsText(pr, counts), jwks)
	return nil
}

// backupMasterKey is the master key to open a backup with: the configured
// one, or the master.key beside the database (a copy of the default data
// folder).
func backupMasterKey(cfg *Config, dir string) ([]byte, error) {
	if cfg.MasterKey == "" && cfg.MasterKeyFile == "" && dir == "" && cfg.DatabaseURL != "" {
		return nil, i18n.Say("cli.verify.set_master_key")
	}
	base := cfg.DataDir
	if dir != "" {
		base = dir
	}
	master, _, err := keys.LoadMasterKey(keys.MasterKeyConfig{Value: cfg.MasterKey, File: cfg.MasterKeyFile, DataDir: base, NoGenerate: true})
	if errors.Is(err, keys.ErrMasterKeyMissing) {
		return nil, i18n.Say("cli.verify.master_key", "error", err)
	}
	return master, err
}

// firstArg splits a command's first argument (a folder) from its flags;
// dir is "" when help was printed.
func firstArg(pr *i18n.Printer, args []string, what, usageKey string, stdout io.Writer) (dir string, rest []string, err error) {
	if len(args) > 0 && slices.Contains([]string{"-h", "-help", "--help", "help"}, args[0]) {
		cli.Usage(pr, stdout, usageKey)
		return "", nil, nil
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return "", nil, i18n.Say("cli.backup.want_folder", "command", what)
	}
	return args[0], args[1:], nil
}

// emptyFolder makes dir (0700) or accepts it empty.
func emptyFolder(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return os.MkdirAll(dir, 0o700)
	}
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return i18n.Say("cli.backup.not_empty", "dir", dir)
	}
	return nil
}

// blobDir is the local blob store's folder.
func blobDir(cfg *Config) string {
	if cfg.Releases.Dir != "" {
		return cfg.Releases.Dir
	}
	return filepath.Join(cfg.DataDir, "blobs")
}

// copyTree copies a file or a folder tree (files 0600, folders 0700) and
// returns how many files it copied; a missing source copies nothing.
func copyTree(from, to string) (int, error) {
	n := 0
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && path == from {
			return fs.SkipAll
		}
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o700)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		n++
		return copyFileTo(path, dst)
	})
	return n, err
}

func copyFileTo(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	return errors.Join(err, out.Sync(), out.Close())
}

// countsText is the row counts as "rows: name n, ...", in a stable order
// (the table names as they are).
func countsText(pr *i18n.Printer, counts map[string]int64) string {
	names := make([]string, 0, len(counts))
	for n := range counts {
		names = append(names, n)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %d", n, counts[n])
	}
	return pr.T("cli.backup.rows", "counts", strings.Join(parts, ", "))
}

// masterKeySource says where this installation's master key is.
func masterKeySource(cfg *Config) string {
	switch {
	case cfg.MasterKeyFile != "":
		return "NARCIDI_MASTER_KEY_FILE=" + cfg.MasterKeyFile
	case cfg.MasterKey != "":
		return "NARCIDI_MASTER_KEY"
	}
	return filepath.Join(cfg.DataDir, "master.key")
}
