package pgraw

import "github.com/jackc/pgx/v5/pgtype"

// Array binds a Go slice as ONE array parameter, sent in PostgreSQL's binary
// format. GORM expands a slice argument into a list of parameters, whose
// statement text (and so its prepared plan) changes with the list's length;
// a struct it passes on as it is, and pgx encodes any pgtype.ArrayGetter
// element by element. A nil element is NULL.
//
// A batch's columns travel this way rather than as a JSON document or array
// literals: PostgreSQL reads binary arrays several times faster than it takes
// a JSON document apart with jsonb_to_recordset or parses array literals
// (EXPLAIN ANALYZE of the batch write shows it), and the batch write is most
// of the database's work. The statuses themselves go as one bytea, the
// answer's body (see models.WriteBatch).
type Array[T any] struct{ elems pgtype.FlatArray[T] }

// ArrayOf binds elems as one array parameter.
func ArrayOf[T any](elems []T) Array[T] { return Array[T]{elems: elems} }

// Dimensions implements pgtype.ArrayGetter.
func (a Array[T]) Dimensions() []pgtype.ArrayDimension { return a.elems.Dimensions() }

// Index implements pgtype.ArrayGetter.
func (a Array[T]) Index(i int) any { return a.elems.Index(i) }

// IndexType implements pgtype.ArrayGetter.
func (a Array[T]) IndexType() any { return a.elems.IndexType() }
