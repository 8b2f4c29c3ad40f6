package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/db"
	"github.com/vagov/lighthouse526/models"
)

// uploadsSynopsis is the usage of `worker uploads`.
const uploadsSynopsis = `uploads show <request-id> [--json]
       worker uploads stuck [--older-than 24h] [--unknown-polls 3] [--limit 100] [--json]
       worker uploads release <upload-id> [--json]

show prints one upload with its step timeline; stuck lists quarantined uploads, then uploads pending
too long or unknown to Lighthouse; release ends an upload's quarantine once its row is fixed.`

func uploadsCmd(ctx context.Context, args []string, stdout, _ io.Writer) error {
	if len(args) > 0 && isHelp(args[0]) {
		printUsage(stdout, nil, uploadsSynopsis)
		return errHelp
	}
	if len(args) == 0 || (args[0] != "show" && args[0] != "stuck" && args[0] != "release") {
		return &exitError{code: 2, err: errors.New("say show <request-id>, stuck or release <upload-id> (see worker uploads --help)")}
	}
	fs := flag.NewFlagSet("uploads "+args[0], flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	var (
		olderThan    *time.Duration
		unknownPolls *int
		limit        *int
		synopsis     = "uploads show <request-id> [--json]"
	)
	if args[0] == "release" {
		synopsis = "uploads release <upload-id> [--json]"
	}
	if args[0] == "stuck" {
		olderThan = fs.Duration("older-than", 24*time.Hour, "pending for longer than this")
		unknownPolls = fs.Int("unknown-polls", 3, "unknown to Lighthouse this many polls in a row")
		limit = fs.Int("limit", 100, "list at most this many")
		synopsis = "uploads stuck [--older-than 24h] [--unknown-polls 3] [--limit 100] [--json]"
	}
	// Arguments are counted below: show takes its request id, stuck none.
	if err := parseFlags(fs, args[1:], stdout, synopsis, len(args)); err != nil {
		return err
	}
	requestID := fs.Arg(0) // or, for release, the upload id
	if args[0] != "stuck" {
		// Flags may follow the id: uploads show 634 --json.
		if err := parseFlags(fs, fs.Args()[min(1, fs.NArg()):], stdout, synopsis, 0); err != nil {
			return err
		}
		if requestID == "" {
			return &exitError{code: 2, err: fmt.Errorf("uploads %s takes one id (see worker uploads %s --help)", args[0], args[0])}
		}
	} else if requestID != "" {
		return &exitError{code: 2, err: fmt.Errorf("unexpected argument %q (see worker uploads stuck --help)", requestID)}
	}
	var check flagCheck
	if args[0] == "stuck" {
		check.positiveDuration("older-than", *olderThan)
		check.positive("unknown-polls", int64(*unknownPolls))
		check.positive("limit", int64(*limit))
	}
	if err := check.err(); err != nil {
		return err
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	gdb, err := openDB(ctx, cfg, newLogger(cfg), "lighthouse526-uploads")
	if err != nil {
		return err
	}
	defer db.Close(gdb)
	if args[0] == "show" {
		return showUploads(ctx, gdb, requestID, stdout, *asJSON)
	}
	if args[0] == "release" {
		return releaseUpload(ctx, gdb, requestID, stdout, *asJSON)
	}
	now := time.Now()
	stuck, err := models.StuckUploads(ctx, gdb, now, now.Add(-*olderThan), *unknownPolls, *limit)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSONOut(stdout, stuck)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tREQUEST ID\tSUBMISSION\tTYPE\tCREATED\tLAST POLLED\tNEXT POLL\tUNKNOWN POLLS\tREASON\tQUARANTINE")
	for _, s := range stuck {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", s.ID, shownRequestID(s.LighthouseDocumentRequestID), s.Form526SubmissionID,
			strconv.Quote(s.DocumentType), stamp(&s.CreatedAt), stamp(s.StatusLastPolledAt), stamp(s.NextPollAt), s.LighthouseUnknownPollCount, printable(s.Reason), printable(quarantineText(s)))
	}
	fmt.Fprintf(tw, "%d stuck upload(s)\n", len(stuck))
	return tw.Flush()
}

// shownUpload is one upload as `uploads show --json` prints it.
type shownUpload struct {
	models.Lighthouse526DocumentUpload `json:"-"`

	ID                          int64            `json:"id"`
	Form526SubmissionID         int64            `json:"form526_submission_id"`
	FormAttachmentID            *int64           `json:"form_attachment_id"`
	LighthouseDocumentRequestID string           `json:"lighthouse_document_request_id"`
	AasmState                   string           `json:"aasm_state"`
	DocumentType                string           `json:"document_type"`
	StartedAt                   *time.Time       `json:"lighthouse_processing_started_at"`
	EndedAt                     *time.Time       `json:"lighthouse_processing_ended_at"`
	StatusLastPolledAt          *time.Time       `json:"status_last_polled_at"`
	UnknownPollCount            int              `json:"lighthouse_unknown_poll_count"`
	ErrorMessage                models.JSON      `json:"error_message"`
	LastStatusResponse          models.JSON      `json:"last_status_response"`
	CreatedAt                   time.Time        `json:"created_at"`
	UpdatedAt                   time.Time        `json:"updated_at"`
	Timeline                    *models.Timeline `json:"timeline"`
}

func newShownUpload(u models.Lighthouse526DocumentUpload, unknownPolls int, tl *models.Timeline) shownUpload {
	return shownUpload{
		Lighthouse526DocumentUpload: u,
		ID:                          u.ID, Form526SubmissionID: u.Form526SubmissionID, FormAttachmentID: u.FormAttachmentID,
		LighthouseDocumentRequestID: u.LighthouseDocumentRequestID, AasmState: u.AasmState, DocumentType: u.DocumentType,
		StartedAt: u.LighthouseProcessingStartedAt, EndedAt: u.LighthouseProcessingEndedAt,
		StatusLastPolledAt: u.StatusLastPolledAt, UnknownPollCount: unknownPolls,
		ErrorMessage: u.ErrorMessage, LastStatusResponse: u.LastStatusResponse,
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, Timeline: tl,
	}
}

func showUploads(ctx context.Context, gdb *gorm.DB, requestID string, w io.Writer, asJSON bool) error {
	ups, err := models.UploadsByRequestID(ctx, gdb, requestID)
	if err != nil {
		return err
	}
	if len(ups) == 0 {
		return &exitError{code: 3, err: fmt.Errorf("no upload with request id %q", requestID)}
	}
	shown := make([]shownUpload, len(ups))
	for i, u := range ups {
		tl, err := models.ParseTimeline(u.LastStatusResponse)
		if err != nil {
			return err
		}
		unknownPolls, err := models.UnknownPollCount(ctx, gdb, u.ID)
		if err != nil {
			return err
		}
		shown[i] = newShownUpload(u, unknownPolls, tl)
	}
	if asJSON {
		return writeJSONOut(w, shown)
	}
	for _, s := range shown {
		printUpload(w, s)
	}
	return nil
}

func printUpload(w io.Writer, s shownUpload) {
	u := s.Lighthouse526DocumentUpload
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "upload\t%d\n", u.ID)
	fmt.Fprintf(tw, "request id\t%s\n", printable(u.LighthouseDocumentRequestID))
	fmt.Fprintf(tw, "submission\t%d\n", u.Form526SubmissionID)
	if u.FormAttachmentID != nil {
		fmt.Fprintf(tw, "attachment\t%d\n", *u.FormAttachmentID)
	}
	fmt.Fprintf(tw, "document type\t%s\n", printable(u.DocumentType))
	fmt.Fprintf(tw, "state\t%s\n", printable(u.AasmState))
	fmt.Fprintf(tw, "tracked since\t%s\n", stamp(&u.CreatedAt))
	fmt.Fprintf(tw, "last polled\t%s\n", stamp(u.StatusLastPolledAt))
	fmt.Fprintf(tw, "unknown polls in a row\t%d\n", s.UnknownPollCount)
	_ = tw.Flush()
	tl := s.Timeline
	if tl == nil {
		fmt.Fprintln(w, "Lighthouse status: none recorded yet")
		fmt.Fprintln(w)
		return
	}
	// Everything below is Lighthouse's text: escaped before the terminal.
	fmt.Fprintf(w, "Lighthouse status: %s (started %s, ended %s)\n", printable(cutText(tl.Status, shownTextBytes)), stamp(tl.StartedAt), stamp(tl.EndedAt))
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	noted := false
	for i, st := range tl.Steps {
		note := ""
		if tl.Error != nil && tl.Error.Step == st.Name {
			note, noted = "<- "+printable(cutText(tl.Error.Detail, shownTextBytes)), true
		}
		fmt.Fprintf(tw, "  %d.\t%s\t%s\t%s\n", i+1, printable(cutText(st.Name, shownTextBytes)), printable(cutText(st.Status, shownTextBytes)), note)
	}
	_ = tw.Flush()
	if tl.Error != nil && !noted {
		// No step to hang it on (none listed, or another name).
		fmt.Fprintf(w, "  error at %s: %s\n", printable(cutText(tl.Error.Step, shownTextBytes)), printable(cutText(tl.Error.Detail, shownTextBytes)))
	}
	fmt.Fprintln(w)
}

// shownTextBytes caps each of Lighthouse's texts `uploads show` prints: a
// row stored before fields were cut (lighthouse.MaxFieldBytes), by this
// worker or the Ruby job, may hold a 5 MB error.detail.
const shownTextBytes = 2 << 10

// cutText is s cut to at most n bytes on a character boundary, saying how
// long it was when cut.
func cutText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… [%d bytes in all; --json prints what is stored]", s[:cut], len(s))
}

func stamp(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func writeJSONOut(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
