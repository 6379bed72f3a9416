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

	"github.com/nzilacode/narcidicontrole/keys"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/wiring"
)

// Backup and restore (README.md, "Backup and restore"). A backup of the
// embedded default is a folder: narcidi.db (an online, consistent copy made
// with VACUUM INTO), blobs/ (the local release files) and backup.json (what
// it holds). The master key is never in it: it is kept apart, and without
// it the signing keys and secrets in the copy do not open.

const (
	backupDBFile       = "narcidi.db"
	backupBlobsDir     = "blobs"
	backupManifestFile = "backup.json"
)

// pgRecipe is what the backup commands say on PostgreSQL.
const pgRecipe = `on PostgreSQL, back up with pg_dump and restore with pg_restore (README.md, "Backup and restore"):
  pg_dump --format=custom --file narcidi-$(date -u +%Y%m%dT%H%M%SZ).dump "$NARCIDI_DATABASE_URL"
  pg_restore --no-owner --dbname "$NEW_DATABASE_URL" narcidi-....dump
  NARCIDI_DATABASE_URL=$NEW_DATABASE_URL narcidi verify-backup
Keep the master key (NARCIDI_MASTER_KEY_FILE) apart from the dump; the release files are in the S3 bucket (its own versioning or replication)`

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

const backupUsage = `Usage: narcidi backup DIR [flags]

Writes an online, consistent copy of the SQLite database (VACUUM INTO: the
server keeps running and nothing in its write-ahead log is lost), the local
release files and backup.json into DIR, which must not exist or be empty.
The master key is not copied: keep it apart. PostgreSQL: use pg_dump (the
command prints the recipe). The flags are those of "narcidi keys list -h".
`

func backupCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	dir, rest, err := firstArg(args, "backup DIR", backupUsage, stdout)
	if dir == "" || err != nil {
		return err
	}
	cfg, _, err := parseConfig("backup", rest, getenv, stderr)
	if err != nil {
		return err
	}
	if cfg.DatabaseURL != "" {
		return errors.New("narcidi backup copies the embedded SQLite database; " + pgRecipe)
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
		return fmt.Errorf("copy the database: %w", err)
	}
	m, err := describeCopy(ctx, dir)
	if err != nil {
		return err
	}
	if cfg.Releases.Backend == "local" {
		if m.Blobs, err = copyTree(blobDir(cfg), filepath.Join(dir, backupBlobsDir)); err != nil {
			return fmt.Errorf("copy the release files: %w", err)
		}
	}
	b, _ := json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, backupManifestFile), append(b, '\n'), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backup written to %s: schema %d, %s, %d signing keys, %d release files\n", dir, m.Schema, countsText(m.Counts), len(m.KIDs), m.Blobs)
	fmt.Fprintf(stdout, "REMINDER: the backup does not hold the master key (%s). Without it the signing keys, webhook secrets and API tokens in it are useless: keep a copy of the key apart from the backup.\n", masterKeySource(cfg))
	if cfg.Releases.Backend != "local" {
		fmt.Fprintln(stdout, "The release files are in the S3 bucket, not in this backup.")
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

const restoreUsage = `Usage: narcidi restore BACKUP_DIR [flags]

Copies a backup made by "narcidi backup" into the data folder
(NARCIDI_DATA_DIR, which must hold no database) and the local release files
into the blob folder, then verifies the result as "narcidi verify-backup"
does: set the master key of the backed-up installation (NARCIDI_MASTER_KEY
or NARCIDI_MASTER_KEY_FILE). PostgreSQL: use pg_restore (the command prints
the recipe).
`

func restoreCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	from, rest, err := firstArg(args, "restore BACKUP_DIR", restoreUsage, stdout)
	if from == "" || err != nil {
		return err
	}
	cfg, _, err := parseConfig("restore", rest, getenv, stderr)
	if err != nil {
		return err
	}
	if cfg.DatabaseURL != "" {
		return errors.New("narcidi restore restores into the embedded SQLite database; " + pgRecipe)
	}
	src := filepath.Join(from, backupDBFile)
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("%s is not a backup folder: %w", from, err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return err
	}
	for _, f := range []string{"narcidi.db", "narcidi.db-wal", "narcidi.db-shm"} {
		if _, err := os.Stat(filepath.Join(cfg.DataDir, f)); err == nil {
			return fmt.Errorf("the data folder %s already holds %s: restore into an empty data folder (move the old one aside first)", cfg.DataDir, f)
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
	fmt.Fprintf(stdout, "restored %s into %s (%d release files)\n", from, cfg.DataDir, blobs)
	return verifyDatabase(ctx, cfg, cfg.DataDir, stdout)
}

const verifyBackupUsage = `Usage: narcidi verify-backup [BACKUP_DIR] [flags]

Opens a backup folder (or, without one, the configured database: a
PostgreSQL dump restored into a scratch database, say) without changing it,
and checks that this binary understands its schema, that the master key
(NARCIDI_MASTER_KEY or NARCIDI_MASTER_KEY_FILE) is the one it was used with,
that every signing key opens with it, and prints its row counts and JWKS.
Exits non-zero on any failure.
`

func verifyBackupCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	dir, rest := "", args
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		dir, rest = args[0], args[1:]
	} else if len(args) > 0 && slices.Contains([]string{"-h", "-help", "--help"}, args[0]) {
		fmt.Fprint(stdout, verifyBackupUsage)
		return nil
	}
	cfg, _, err := parseConfig("verify-backup", rest, getenv, stderr)
	if err != nil {
		return err
	}
	if dir != "" {
		cfg.DatabaseURL = ""
	}
	return verifyDatabase(ctx, cfg, dir, stdout)
}

// verifyDatabase opens the database of cfg (the SQLite file in dir when
// dir is set) without migrating it and checks it as verify-backup says.
func verifyDatabase(ctx context.Context, cfg *Config, dir string, stdout io.Writer) error {
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
		return errors.New("the database has no schema: not a Narcidi database, or an empty one")
	}
	if sch.Version > binarySchema.Version && binarySchema.Version < sch.OldestBinary {
		return fmt.Errorf("%w: schema %d needs a binary of schema %d or newer; this one understands %d", storage.ErrSchemaTooNew, sch.Version, sch.OldestBinary, binarySchema.Version)
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
			return fmt.Errorf("%w: set NARCIDI_MASTER_KEY or NARCIDI_MASTER_KEY_FILE to the master key of the backed-up installation", err)
		}
	}
	kr, err := keys.OpenStore(wiring.SigningKeyStore(st), master, nil)
	if err != nil {
		return fmt.Errorf("the signing keys do not open: %w", err)
	}
	active, hasActive := kr.Active()
	if !hasActive {
		return errors.New("the database holds no active signing key")
	}
	counts, err := st.TableCounts(ctx)
	if err != nil {
		return err
	}
	jwks, err := kr.JWKS()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "verified: schema %d (this binary: %d), master key matches, %d signing keys open (active %s)\n%s\njwks %s\n",
		sch.Version, binarySchema.Version, len(kr.List()), active, countsText(counts), jwks)
	return nil
}

// backupMasterKey is the master key to open a backup with: the configured
// one, or the master.key beside the database (a copy of the default data
// folder).
func backupMasterKey(cfg *Config, dir string) ([]byte, error) {
	if cfg.MasterKey == "" && cfg.MasterKeyFile == "" && dir == "" && cfg.DatabaseURL != "" {
		return nil, errors.New("set NARCIDI_MASTER_KEY or NARCIDI_MASTER_KEY_FILE to the master key of the backed-up installation")
	}
	base := cfg.DataDir
	if dir != "" {
		base = dir
	}
	master, _, err := keys.LoadMasterKey(keys.MasterKeyConfig{Value: cfg.MasterKey, File: cfg.MasterKeyFile, DataDir: base, NoGenerate: true})
	if errors.Is(err, keys.ErrMasterKeyMissing) {
		return nil, fmt.Errorf("%w: set NARCIDI_MASTER_KEY or NARCIDI_MASTER_KEY_FILE to the master key of the backed-up installation", err)
	}
	return master, err
}

// firstArg splits a command's first argument (a folder) from its flags;
// dir is "" when help was printed.
func firstArg(args []string, what, usage string, stdout io.Writer) (dir string, rest []string, err error) {
	if len(args) > 0 && slices.Contains([]string{"-h", "-help", "--help", "help"}, args[0]) {
		fmt.Fprint(stdout, usage)
		return "", nil, nil
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return "", nil, fmt.Errorf("want the folder first: narcidi %s [flags]", what)
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
		return fmt.Errorf("%s is not empty: give a new or empty folder", dir)
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

// countsText is the row counts as "name n, ...", in a stable order.
func countsText(counts map[string]int64) string {
	names := make([]string, 0, len(counts))
	for n := range counts {
		names = append(names, n)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %d", n, counts[n])
	}
	return "rows: " + strings.Join(parts, ", ")
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
