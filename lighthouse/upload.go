package lighthouse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"path/filepath"
	"strings"
)

// UploadParams are the parameters of POST /documents. Exactly one of
// ParticipantID and FileNumber is set.
type UploadParams struct {
	SystemName     string // e.g. "VA.gov"
	DocType        string // VA "L code", e.g. L023
	FileName       string
	ClaimID        int64
	ParticipantID  string
	FileNumber     string
	TrackedItemIDs []int64
}

func (p UploadParams) validate() error {
	var missing []string
	for _, f := range [][2]string{{"SystemName", p.SystemName}, {"DocType", p.DocType}, {"FileName", p.FileName}} {
		if strings.TrimSpace(f[1]) == "" {
			missing = append(missing, f[0])
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("lighthouse: documents: %s empty: %w", strings.Join(missing, ", "), ErrInvalidRequest)
	}
	if p.ClaimID <= 0 {
		return fmt.Errorf("lighthouse: documents: ClaimID must be positive: %w", ErrInvalidRequest)
	}
	if (p.ParticipantID == "") == (p.FileNumber == "") {
		return fmt.Errorf("lighthouse: documents: set exactly one of ParticipantID and FileNumber: %w", ErrInvalidRequest)
	}
	return nil
}

// uploadParameters is the JSON of the multipart "parameters" part.
type uploadParameters struct {
	Data struct {
		SystemName     string  `json:"systemName"`
		DocType        string  `json:"docType"`
		ClaimID        int64   `json:"claimId"`
		ParticipantID  string  `json:"participantId,omitempty"`
		FileNumber     string  `json:"fileNumber,omitempty"`
		FileName       string  `json:"fileName"`
		TrackedItemIDs []int64 `json:"trackedItemIds"`
	} `json:"data"`
}

// errNotReplayable: after a 401 the upload is sent again only if the file
// can be rewound.
var errNotReplayable = errors.New("lighthouse: documents: token refused and the file cannot be rewound to send it again")

// UploadDocument sends a document with POST /documents (streamed, not
// buffered) and returns the request id to poll. If the file is an io.Seeker
// it can be resent after a token refresh.
func (c *Client) UploadDocument(ctx context.Context, p UploadParams, file io.Reader) (string, error) {
	if err := p.validate(); err != nil {
		return "", err
	}
	if file == nil {
		return "", fmt.Errorf("lighthouse: documents: no file: %w", ErrInvalidRequest)
	}
	var params uploadParameters
	params.Data.SystemName, params.Data.DocType, params.Data.ClaimID = p.SystemName, p.DocType, p.ClaimID
	params.Data.ParticipantID, params.Data.FileNumber = p.ParticipantID, p.FileNumber
	params.Data.FileName, params.Data.TrackedItemIDs = p.FileName, p.TrackedItemIDs
	paramJSON, err := json.Marshal(params)
	if err != nil {
		return "", fmt.Errorf("lighthouse: documents: %w", err)
	}
	var written chan struct{} // closed when the previous attempt stopped reading file
	body, err := c.do(ctx, apiCall{
		endpoint: endpointDocuments,
		method:   http.MethodPost,
		path:     "documents",
		body: func() (io.Reader, string, error) {
			if written != nil {
				s, ok := file.(io.Seeker)
				if !ok {
					return nil, "", errNotReplayable
				}
				select {
				case <-written:
				case <-ctx.Done():
					return nil, "", ctx.Err()
				}
				if _, err := s.Seek(0, io.SeekStart); err != nil {
					return nil, "", fmt.Errorf("%w: %w", errNotReplayable, err)
				}
			}
			written = make(chan struct{})
			return multipartBody(paramJSON, p.FileName, file, written)
		},
	})
	if err != nil {
		return "", err
	}
	var resp struct {
		Data *struct {
			Success   bool            `json:"success"`
			RequestID json.RawMessage `json:"requestId"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return "", malformed("documents: %v", err)
	}
	if resp.Data == nil || !resp.Data.Success {
		return "", malformed("documents: 200 without data.success true")
	}
	id, err := decodeID(resp.Data.RequestID)
	if err != nil {
		return "", malformed("documents: requestId: %v", err)
	}
	return id, nil
}

// multipartBody streams the parameters and file parts through a pipe.
func multipartBody(paramJSON []byte, fileName string, file io.Reader, done chan<- struct{}) (io.Reader, string, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		defer close(done)
		pw.CloseWithError(writeParts(mw, paramJSON, fileName, file))
	}()
	return pr, mw.FormDataContentType(), nil
}

func writeParts(mw *multipart.Writer, paramJSON []byte, fileName string, file io.Reader) error {
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="parameters"`)
	h.Set("Content-Type", "application/json")
	part, err := mw.CreatePart(h)
	if err != nil {
		return err
	}
	if _, err := part.Write(paramJSON); err != nil {
		return err
	}
	ct := mime.TypeByExtension(strings.ToLower(filepath.Ext(fileName)))
	if ct == "" {
		ct = "application/octet-stream"
	}
	h = textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, filepath.Base(fileName)))
	h.Set("Content-Type", ct)
	if part, err = mw.CreatePart(h); err != nil {
		return err
	}
	if _, err := io.Copy(part, file); err != nil {
		return err
	}
	return mw.Close()
}
