package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/scimbridge/scimbridge/store"
)

// maxOptimistic is how many times Update runs fn outside the writer before
// it runs it inside the writer's transaction. Each lost race means another
// write to the same resource committed in between; on a resource that many
// clients write at once (one group receiving parallel member PATCHes) the
// last attempt inside the writer guarantees progress. fn is bounded by the
// callers (the PATCH caps), so that attempt stalls the writer only briefly.
const maxOptimistic = 3

// errLostRace says that the row changed between the read of an optimistic
// Update and its write: Update runs fn again.
var errLostRace = errors.New("resource changed since it was read")

// The writer's checks that the row an optimistic Update read is still the
// current one: qVersion for an update of memberships only, and for an update
// of the attributes the UPDATE itself, with a condition on the version read
// (no row changed: the race is lost). created guards against a delete and
// re-create with the same id and version (import) in between.
const (
	qVersion          = `SELECT kind, version, created FROM resources WHERE tenant = ? AND id = ?`
	sameRow           = ` AND version = ? AND created = ?`
	qUpdateDocIf      = qUpdateDoc + sameRow
	qUpdateResourceIf = qUpdateResource + sameRow
)

// updateQueries are the statements of this file the writer prepares at Open.
var updateQueries = []string{qVersion, qUpdateDocIf, qUpdateResourceIf}

// Update applies fn and writes its result; see store.Store. It returns
// store.ErrNotFound, a *store.ConflictError, or fn's error as is.
//
// fn runs on the caller's goroutine, outside the writer: Update reads the row
// through the read pool, calls fn on a private copy, and hands the writer
// only the result, which the writer writes if the row's version is still the
// one read. If another write got there first (a lost race), Update reads the
// row again and calls fn again, so fn must be free of side effects. A slow fn
// (a large PATCH) therefore holds up no other write. After maxOptimistic lost
// races fn runs once more inside the writer's transaction (in a savepoint of
// its own, on the row as the earlier requests of its batch left it), which
// cannot lose; there, as in every attempt, fn must NEVER call a write method
// of the store (Create, Update, Delete, PutState, DeleteState,
// AcquireLease), which would wait for the writer forever. Read methods are
// fine everywhere (for Members inside the writer, see runTx).
func (s *Store) Update(ctx context.Context, ref store.Ref, fn func(r *store.Resource) (store.MemberDelta, error)) (store.Resource, error) {
	origin, err := store.RequireOrigin(ctx)
	if err != nil {
		return store.Resource{}, fmt.Errorf("sqlite update: %w", err)
	}
	for attempt := 0; attempt < maxOptimistic; attempt++ {
		row, err := s.rQueryRow(ctx, qGet, ref.Tenant, ref.ID)
		if err != nil {
			return store.Resource{}, fmt.Errorf("sqlite update: %w", mapErr(err))
		}
		cur, doc, err := scanResource(row, ref)
		if err != nil {
			return store.Resource{}, fmt.Errorf("sqlite update: %w", err)
		}
		u, err := prepareUpdate(ref, cur, doc, fn, origin)
		if err != nil {
			return store.Resource{}, err
		}
		if u.noop() {
			return u.r, nil
		}
		var out store.Resource
		err = s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
			var err error
			out, err = s.writeUpdate(ctx, tx, u, true)
			return err
		})
		switch {
		case err == nil:
			return out, nil
		case errors.Is(err, errLostRace):
			continue
		}
		return store.Resource{}, fmt.Errorf("sqlite update: %w", err)
	}
	return s.updateInWriter(ctx, ref, fn)
}

// updateInWriter is the last attempt of Update: read, fn and write all in
// the writer's transaction.
func (s *Store) updateInWriter(ctx context.Context, ref store.Ref, fn func(r *store.Resource) (store.MemberDelta, error)) (store.Resource, error) {
	origin, err := store.RequireOrigin(ctx)
	if err != nil {
		return store.Resource{}, fmt.Errorf("sqlite update: %w", err)
	}
	var out store.Resource
	var fnErr error
	err = s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		out, fnErr = store.Resource{}, nil // the writer may run this again
		st, err := s.txStmt(ctx, tx, qGet)
		if err != nil {
			return err
		}
		cur, doc, err := scanResource(st.QueryRowContext(ctx, ref.Tenant, ref.ID), ref)
		if err != nil {
			return err
		}
		u, err := prepareUpdate(ref, cur, doc, fn, origin)
		if err != nil {
			fnErr = err
			return err
		}
		out, err = s.writeUpdate(ctx, tx, u, false)
		return err
	})
	switch {
	case err == nil:
		return out, nil
	case fnErr != nil:
		return store.Resource{}, fnErr
	}
	return store.Resource{}, fmt.Errorf("sqlite update: %w", err)
}

// checkUnchanged returns errLostRace unless the row of cur is still the one
// read (store.ErrNotFound if it is gone).
func (s *Store) checkUnchanged(ctx context.Context, tx *sql.Tx, cur store.Resource) error {
	st, err := s.txStmt(ctx, tx, qVersion)
	if err != nil {
		return err
	}
	var kind string
	var version, created int64
	if err := st.QueryRowContext(ctx, cur.Tenant, cur.ID).Scan(&kind, &version, &created); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		return mapErr(err)
	}
	if store.Kind(kind) != cur.Kind {
		return store.ErrNotFound
	}
	if version != cur.Version || created != cur.Created.UnixNano() {
		return errLostRace
	}
	return nil
}

// update is fn's result, ready for the writer.
type update struct {
	r       store.Resource // fn's result with the version read
	delta   store.MemberDelta
	newDoc  []byte
	changed bool   // newDoc differs from the stored doc
	oldSh   shadow // the shadows of the stored row
	// prov is the journal's provenance but the name: the write's origin
	// (the writer's transaction runs on the writer's context, not the
	// caller's) and what fn changed, encoded before the writer.
	prov provenance
}

// noop reports whether the update writes nothing.
func (u *update) noop() bool { return !u.changed && u.delta.Empty() }

// prepareUpdate calls fn on cur (freshly decoded, so fn's copy is private)
// and encodes the result. fn's error is returned as is.
func prepareUpdate(ref store.Ref, cur store.Resource, doc []byte, fn func(r *store.Resource) (store.MemberDelta, error), origin store.Origin) (*update, error) {
	oldSh := shadows(ref.Kind, cur.Attrs) // taken before fn changes the map
	r := cur
	delta, err := fn(&r)
	if err != nil {
		return nil, err
	}
	r.Ref, r.Version, r.Created, r.LastModified = cur.Ref, cur.Version, cur.Created, cur.LastModified
	if r.Attrs == nil {
		r.Attrs = map[string]any{}
	}
	if !delta.Empty() && ref.Kind != store.Group {
		return nil, fmt.Errorf("sqlite update: only groups have members")
	}
	newDoc, err := json.Marshal(r.Attrs)
	if err != nil {
		return nil, fmt.Errorf("sqlite update: encode attributes: %w", err)
	}
	u := &update{r: r, delta: delta, newDoc: newDoc, changed: !bytes.Equal(newDoc, doc), oldSh: oldSh,
		prov: provenance{origin: origin}}
	if u.changed {
		// fn changed cur.Attrs in place: the stored doc has the old values.
		ch, err := store.ChangedAttrs(doc, newDoc)
		if err != nil {
			return nil, fmt.Errorf("sqlite update %s: %w", ref.ID, err)
		}
		if u.prov, err = newProvenance(origin, "", ch); err != nil {
			return nil, fmt.Errorf("sqlite update %s: %w", ref.ID, err)
		}
	}
	return u, nil
}

// writeUpdate writes u in tx, on the row u was computed from, and returns
// the resource as written. Nothing is written (and the version stays) when
// neither the attributes nor the memberships change. With check, u was
// computed outside the writer: writeUpdate returns errLostRace (its writes
// are rolled back with its savepoint) if the row is no longer the one read.
func (s *Store) writeUpdate(ctx context.Context, tx *sql.Tx, u *update, check bool) (store.Resource, error) {
	r, ref := u.r, u.r.Ref
	if check && !u.changed {
		if err := s.checkUnchanged(ctx, tx, r); err != nil {
			return store.Resource{}, err
		}
	}
	var added, removed []string
	if !u.delta.Empty() {
		var err error
		if added, removed, err = s.applyDelta(ctx, tx, ref, u.delta); err != nil {
			return store.Resource{}, err
		}
	}
	if !u.changed && len(added) == 0 && len(removed) == 0 {
		return r, nil
	}
	now := s.now().UTC()
	r.Version++
	r.LastModified = now
	if u.changed {
		// SQLite rewrites the index entries of every column an UPDATE
		// assigns, changed or not: leave the shadow columns and the
		// emails alone unless they change, as most PATCHes go.
		sh := shadows(ref.Kind, r.Attrs)
		q, args := qUpdateDoc, []any{r.Version, now.UnixNano(), u.newDoc, ref.Tenant, ref.ID}
		if !sh.sameColumns(u.oldSh) {
			q, args = qUpdateResource, []any{r.Version, now.UnixNano(),
				sh.externalID, sh.userName, sh.displayName, sh.display, sh.active, u.newDoc,
				ref.Tenant, ref.ID}
		}
		if check {
			q, args = q+sameRow, append(args, u.r.Version, u.r.Created.UnixNano())
		}
		res, err := s.txExec(ctx, tx, q, args...)
		if err != nil {
			return store.Resource{}, mapErr(err)
		}
		if check {
			if n, err := res.RowsAffected(); err != nil {
				return store.Resource{}, err
			} else if n == 0 {
				return store.Resource{}, errLostRace // changed or deleted since read
			}
		}
		// Membership rows that copy this resource's display follow it through
		// the members_display trigger (migration 0004).
		if ref.Kind == store.User && !slices.Equal(sh.emails, u.oldSh.emails) {
			// Only the addresses that come or go touch the table.
			if err := s.deleteEmails(ctx, tx, ref, without(u.oldSh.emails, sh.emails)); err != nil {
				return store.Resource{}, err
			}
			if err := s.insertEmails(ctx, tx, ref, without(sh.emails, u.oldSh.emails)); err != nil {
				return store.Resource{}, err
			}
		}
	} else if _, err := s.txExec(ctx, tx, qTouchResource, r.Version, now.UnixNano(), ref.Tenant, ref.ID); err != nil {
		return store.Resource{}, err
	}
	prov := u.prov
	prov.name = store.NameOf(ref.Kind, r.Attrs)
	if err := s.journal(ctx, tx, ref, store.OpUpdate, r.Version, now, added, removed, prov); err != nil {
		return store.Resource{}, err
	}
	return r, nil
}
