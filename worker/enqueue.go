package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/vagov/lighthouse526/tasks"
)

// enqueued is what `worker enqueue` prints.
type enqueued struct {
	TaskType  string `json:"task_type"`
	TaskID    string `json:"task_id"`
	Queue     string `json:"queue"`
	Duplicate bool   `json:"duplicate"`
}

// enqueueSynopsis is the usage of `worker enqueue`.
const enqueueSynopsis = `enqueue track --submission-id N --request-id ID (--document-type T | --document-code C) [--attachment-id N] [--json]
       worker enqueue poll (--request-id ID ... | --submission-id N) [--json]

Enqueues an ad hoc task on QUEUE_NAME; see worker enqueue track --help and worker enqueue poll --help.`

func enqueueCmd(ctx context.Context, args []string, stdout, _ io.Writer) error {
	if len(args) == 0 {
		return &exitError{code: 2, err: errors.New("say track or poll (see worker enqueue --help)")}
	}
	if isHelp(args[0]) {
		printUsage(stdout, nil, enqueueSynopsis)
		return errHelp
	}
	fs := flag.NewFlagSet("enqueue "+args[0], flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the result as JSON")
	var (
		build    func(queue string) (*asynq.Task, string, error)
		ids      stringList
		synopsis string
		check    flagCheck
	)
	switch args[0] {
	case "track":
		var p tasks.TrackPayload
		var attachment int64
		fs.Int64Var(&p.Form526SubmissionID, "submission-id", 0, "form526_submissions.id of the upload (required)")
		fs.StringVar(&p.LighthouseDocumentRequestID, "request-id", "", "the requestId Lighthouse returned (required)")
		fs.StringVar(&p.DocumentType, "document-type", "", `"BDD Instructions", "Form 0781", "Form 0781a" or "Veteran Upload"`)
		fs.StringVar(&p.DocumentCode, "document-code", "", "the VA document code instead of --document-type (L023, L228, L229; others are Veteran Uploads)")
		fs.Int64Var(&attachment, "attachment-id", 0, "form_attachments.id (required for a Veteran Upload)")
		synopsis = "enqueue track --submission-id N --request-id ID (--document-type T | --document-code C) [--attachment-id N] [--json]"
		build = func(queue string) (*asynq.Task, string, error) {
			if attachment != 0 {
				p.FormAttachmentID = &attachment
			}
			t, err := tasks.NewTrackTask(queue, p)
			if err != nil {
				return nil, "", err
			}
			id, err := tasks.TrackTaskID(p)
			return t, id, err
		}
	case "poll":
		var p tasks.PollNowPayload
		fs.Var(&ids, "request-id", "a request id to poll (repeat, or separate with commas)")
		fs.Int64Var(&p.Form526SubmissionID, "submission-id", 0, "poll every pending upload of this submission instead")
		synopsis = "enqueue poll (--request-id ID ... | --submission-id N) [--json]"
		build = func(queue string) (*asynq.Task, string, error) {
			p.RequestIDs = ids
			at := time.Now()
			t, err := tasks.NewPollNowTask(queue, p, at)
			if err != nil {
				return nil, "", err
			}
			id, err := tasks.PollNowTaskID(p, at)
			return t, id, err
		}
	default:
		return &exitError{code: 2, err: fmt.Errorf("unknown task %q: say track or poll", args[0])}
	}
	if err := parseFlags(fs, args[1:], stdout, synopsis, 0); err != nil {
		return err
	}
	// An id given is a positive one: 0 or -1 is named invalid, not missing.
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "submission-id" || f.Name == "attachment-id" {
			n, _ := f.Value.(flag.Getter).Get().(int64)
			check.positive(f.Name, n)
		}
	})
	if err := check.err(); err != nil {
		return err
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	task, id, err := build(cfg.QueueName)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("invalid: %w", err)}
	}
	newLogger(cfg) // routes go-redis's own messages to the structured log
	rdb, err := newRedis(cfg)
	if err != nil {
		return err
	}
	client := asynq.NewClientFromRedisClient(rdb)
	defer client.Close()
	out := enqueued{TaskType: task.Type(), TaskID: id, Queue: cfg.QueueName}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out.Duplicate, err = tasks.Enqueue(ctx, client, task)
	if err != nil {
		return fmt.Errorf("enqueue failed (running the same command again is safe: it never makes a second task): %w", err)
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(out)
	}
	verb := "enqueued"
	if out.Duplicate {
		verb = "already enqueued"
	}
	_, err = fmt.Fprintf(stdout, "%s %s task %s on queue %s\n", verb, out.TaskType, out.TaskID, out.Queue)
	return err
}

// stringList is a repeatable flag whose values may also be comma separated.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }

func (s *stringList) Set(v string) error {
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*s = append(*s, part)
		}
	}
	return nil
}
