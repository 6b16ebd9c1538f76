// This file was generated with `cornucopia`. Do not modify.

#[derive(Debug)]
pub struct TakeRelayLeaseParams<T1: crate::StringSql, T2: crate::StringSql> {
    pub name: T1,
    pub holder: T2,
    pub ttl_seconds: f64,
}
#[derive(Debug)]
pub struct ReleaseRelayLeaseParams<T1: crate::StringSql, T2: crate::StringSql> {
    pub name: T1,
    pub holder: T2,
}
#[derive(Debug)]
pub struct PendingEventsParams<T1: crate::ArraySql<Item = i64>> {
    pub skip: T1,
    pub limit: i64,
}
#[derive(Debug)]
pub struct AdvanceRelayOffsetsParams<
    T1: crate::StringSql,
    T2: crate::ArraySql<Item = i32>,
    T3: crate::ArraySql<Item = i64>,
> {
    pub lease: T1,
    pub partitions: T2,
    pub next_offsets: T3,
}
#[derive(Debug, Clone, PartialEq)]
pub struct PendingEvents {
    pub seq: i64,
    pub event_id: String,
    pub order_id: i64,
    pub status: String,
    pub moment_micros: i64,
    pub request_id: String,
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
}
pub struct PendingEventsBorrowed<'a> {
    pub seq: i64,
    pub event_id: &'a str,
    pub order_id: i64,
    pub status: &'a str,
    pub moment_micros: i64,
    pub request_id: &'a str,
    pub traceparent: Option<&'a str>,
    pub tracestate: Option<&'a str>,
}
impl<'a> From<PendingEventsBorrowed<'a>> for PendingEvents {
    fn from(
        PendingEventsBorrowed {
            seq,
            event_id,
            order_id,
            status,
            moment_micros,
            request_id,
            traceparent,
            tracestate,
        }: PendingEventsBorrowed<'a>,
    ) -> Self {
        Self {
            seq,
            event_id: event_id.into(),
            order_id,
            status: status.into(),
            moment_micros,
            request_id: request_id.into(),
            traceparent: traceparent.map(|v| v.into()),
            tracestate: tracestate.map(|v| v.into()),
        }
    }
}
#[derive(Debug, Clone, PartialEq, Copy)]
pub struct OutboxBacklog {
    pub pending: i64,
    pub oldest_seconds: f64,
}
#[derive(Debug, Clone, PartialEq, Copy)]
pub struct RelayOffsets {
    pub partition: i32,
    pub next_offset: i64,
}
use crate::client::async_::GenericClient;
use futures::{self, StreamExt, TryStreamExt};
pub struct I64Query<'c, 'a, 's, C: GenericClient, T, const N: usize> {
    client: &'c C,
    params: [&'a (dyn postgres_types::ToSql + Sync); N],
    query: &'static str,
    cached: Option<&'s tokio_postgres::Statement>,
    extractor: fn(&tokio_postgres::Row) -> Result<i64, tokio_postgres::Error>,
    mapper: fn(i64) -> T,
}
impl<'c, 'a, 's, C, T: 'c, const N: usize> I64Query<'c, 'a, 's, C, T, N>
where
    C: GenericClient,
{
    pub fn map<R>(self, mapper: fn(i64) -> R) -> I64Query<'c, 'a, 's, C, R, N> {
        I64Query {
            client: self.client,
            params: self.params,
            query: self.query,
            cached: self.cached,
            extractor: self.extractor,
            mapper,
        }
    }
    pub async fn one(self) -> Result<T, tokio_postgres::Error> {
        let row =
            crate::client::async_::one(self.client, self.query, &self.params, self.cached).await?;
        Ok((self.mapper)((self.extractor)(&row)?))
    }
    pub async fn all(self) -> Result<Vec<T>, tokio_postgres::Error> {
        self.iter().await?.try_collect().await
    }
    pub async fn opt(self) -> Result<Option<T>, tokio_postgres::Error> {
        let opt_row =
            crate::client::async_::opt(self.client, self.query, &self.params, self.cached).await?;
        Ok(opt_row
            .map(|row| {
                let extracted = (self.extractor)(&row)?;
                Ok((self.mapper)(extracted))
            })
            .transpose()?)
    }
    pub async fn iter(
        self,
    ) -> Result<
        impl futures::Stream<Item = Result<T, tokio_postgres::Error>> + 'c,
        tokio_postgres::Error,
    > {
        let stream = crate::client::async_::raw(
            self.client,
            self.query,
            crate::slice_iter(&self.params),
            self.cached,
        )
        .await?;
        let mapped = stream
            .map(move |res| {
                res.and_then(|row| {
                    let extracted = (self.extractor)(&row)?;
                    Ok((self.mapper)(extracted))
                })
            })
            .into_stream();
        Ok(mapped)
    }
}
pub struct PendingEventsQuery<'c, 'a, 's, C: GenericClient, T, const N: usize> {
    client: &'c C,
    params: [&'a (dyn postgres_types::ToSql + Sync); N],
    query: &'static str,
    cached: Option<&'s tokio_postgres::Statement>,
    extractor: fn(&tokio_postgres::Row) -> Result<PendingEventsBorrowed, tokio_postgres::Error>,
    mapper: fn(PendingEventsBorrowed) -> T,
}
impl<'c, 'a, 's, C, T: 'c, const N: usize> PendingEventsQuery<'c, 'a, 's, C, T, N>
where
    C: GenericClient,
{
    pub fn map<R>(
        self,
        mapper: fn(PendingEventsBorrowed) -> R,
    ) -> PendingEventsQuery<'c, 'a, 's, C, R, N> {
        PendingEventsQuery {
            client: self.client,
            params: self.params,
            query: self.query,
            cached: self.cached,
            extractor: self.extractor,
            mapper,
        }
    }
    pub async fn one(self) -> Result<T, tokio_postgres::Error> {
        let row =
            crate::client::async_::one(self.client, self.query, &self.params, self.cached).await?;
        Ok((self.mapper)((self.extractor)(&row)?))
    }
    pub async fn all(self) -> Result<Vec<T>, tokio_postgres::Error> {
        self.iter().await?.try_collect().await
    }
    pub async fn opt(self) -> Result<Option<T>, tokio_postgres::Error> {
        let opt_row =
            crate::client::async_::opt(self.client, self.query, &self.params, self.cached).await?;
        Ok(opt_row
            .map(|row| {
                let extracted = (self.extractor)(&row)?;
                Ok((self.mapper)(extracted))
            })
            .transpose()?)
    }
    pub async fn iter(
        self,
    ) -> Result<
        impl futures::Stream<Item = Result<T, tokio_postgres::Error>> + 'c,
        tokio_postgres::Error,
    > {
        let stream = crate::client::async_::raw(
            self.client,
            self.query,
            crate::slice_iter(&self.params),
            self.cached,
        )
        .await?;
        let mapped = stream
            .map(move |res| {
                res.and_then(|row| {
                    let extracted = (self.extractor)(&row)?;
                    Ok((self.mapper)(extracted))
                })
            })
            .into_stream();
        Ok(mapped)
    }
}
pub struct OutboxBacklogQuery<'c, 'a, 's, C: GenericClient, T, const N: usize> {
    client: &'c C,
    params: [&'a (dyn postgres_types::ToSql + Sync); N],
    query: &'static str,
    cached: Option<&'s tokio_postgres::Statement>,
    extractor: fn(&tokio_postgres::Row) -> Result<OutboxBacklog, tokio_postgres::Error>,
    mapper: fn(OutboxBacklog) -> T,
}
impl<'c, 'a, 's, C, T: 'c, const N: usize> OutboxBacklogQuery<'c, 'a, 's, C, T, N>
where
    C: GenericClient,
{
    pub fn map<R>(self, mapper: fn(OutboxBacklog) -> R) -> OutboxBacklogQuery<'c, 'a, 's, C, R, N> {
        OutboxBacklogQuery {
            client: self.client,
            params: self.params,
            query: self.query,
            cached: self.cached,
            extractor: self.extractor,
            mapper,
        }
    }
    pub async fn one(self) -> Result<T, tokio_postgres::Error> {
        let row =
            crate::client::async_::one(self.client, self.query, &self.params, self.cached).await?;
        Ok((self.mapper)((self.extractor)(&row)?))
    }
    pub async fn all(self) -> Result<Vec<T>, tokio_postgres::Error> {
        self.iter().await?.try_collect().await
    }
    pub async fn opt(self) -> Result<Option<T>, tokio_postgres::Error> {
        let opt_row =
            crate::client::async_::opt(self.client, self.query, &self.params, self.cached).await?;
        Ok(opt_row
            .map(|row| {
                let extracted = (self.extractor)(&row)?;
                Ok((self.mapper)(extracted))
            })
            .transpose()?)
    }
    pub async fn iter(
        self,
    ) -> Result<
        impl futures::Stream<Item = Result<T, tokio_postgres::Error>> + 'c,
        tokio_postgres::Error,
    > {
        let stream = crate::client::async_::raw(
            self.client,
            self.query,
            crate::slice_iter(&self.params),
            self.cached,
        )
        .await?;
        let mapped = stream
            .map(move |res| {
                res.and_then(|row| {
                    let extracted = (self.extractor)(&row)?;
                    Ok((self.mapper)(extracted))
                })
            })
            .into_stream();
        Ok(mapped)
    }
}
pub struct RelayOffsetsQuery<'c, 'a, 's, C: GenericClient, T, const N: usize> {
    client: &'c C,
    params: [&'a (dyn postgres_types::ToSql + Sync); N],
    query: &'static str,
    cached: Option<&'s tokio_postgres::Statement>,
    extractor: fn(&tokio_postgres::Row) -> Result<RelayOffsets, tokio_postgres::Error>,
    mapper: fn(RelayOffsets) -> T,
}
impl<'c, 'a, 's, C, T: 'c, const N: usize> RelayOffsetsQuery<'c, 'a, 's, C, T, N>
where
    C: GenericClient,
{
    pub fn map<R>(self, mapper: fn(RelayOffsets) -> R) -> RelayOffsetsQuery<'c, 'a, 's, C, R, N> {
        RelayOffsetsQuery {
            client: self.client,
            params: self.params,
            query: self.query,
            cached: self.cached,
            extractor: self.extractor,
            mapper,
        }
    }
    pub async fn one(self) -> Result<T, tokio_postgres::Error> {
        let row =
            crate::client::async_::one(self.client, self.query, &self.params, self.cached).await?;
        Ok((self.mapper)((self.extractor)(&row)?))
    }
    pub async fn all(self) -> Result<Vec<T>, tokio_postgres::Error> {
        self.iter().await?.try_collect().await
    }
    pub async fn opt(self) -> Result<Option<T>, tokio_postgres::Error> {
        let opt_row =
            crate::client::async_::opt(self.client, self.query, &self.params, self.cached).await?;
        Ok(opt_row
            .map(|row| {
                let extracted = (self.extractor)(&row)?;
                Ok((self.mapper)(extracted))
            })
            .transpose()?)
    }
    pub async fn iter(
        self,
    ) -> Result<
        impl futures::Stream<Item = Result<T, tokio_postgres::Error>> + 'c,
        tokio_postgres::Error,
    > {
        let stream = crate::client::async_::raw(
            self.client,
            self.query,
            crate::slice_iter(&self.params),
            self.cached,
        )
        .await?;
        let mapped = stream
            .map(move |res| {
                res.and_then(|row| {
                    let extracted = (self.extractor)(&row)?;
                    Ok((self.mapper)(extracted))
                })
            })
            .into_stream();
        Ok(mapped)
    }
}
pub struct TakeRelayLeaseStmt(&'static str, Option<tokio_postgres::Statement>);
/// Takes the lease `name` for `holder` until `ttl_seconds` from now, or renews it, on the database's
/// clock; returns its term only when `holder` holds it now: it was free, expired, or already its own.
/// The term grows when the lease changes hands or is taken again after it expired or was given up.
pub fn take_relay_lease() -> TakeRelayLeaseStmt {
    TakeRelayLeaseStmt(
        "INSERT INTO relay_leases (name, holder, expires_at) VALUES ($1, $2, clock_timestamp() + make_interval(secs => $3::float8)) ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at, term = CASE WHEN relay_leases.holder = excluded.holder AND relay_leases.expires_at >= clock_timestamp() THEN relay_leases.term ELSE relay_leases.term + 1 END WHERE relay_leases.holder = excluded.holder OR relay_leases.expires_at < clock_timestamp() RETURNING term",
        None,
    )
}
impl TakeRelayLeaseStmt {
    pub async fn prepare<'a, C: GenericClient>(
        mut self,
        client: &'a C,
    ) -> Result<Self, tokio_postgres::Error> {
        self.1 = Some(client.prepare(self.0).await?);
        Ok(self)
    }
    pub fn bind<'c, 'a, 's, C: GenericClient, T1: crate::StringSql, T2: crate::StringSql>(
        &'s self,
        client: &'c C,
        name: &'a T1,
        holder: &'a T2,
        ttl_seconds: &'a f64,
    ) -> I64Query<'c, 'a, 's, C, i64, 3> {
        I64Query {
            client,
            params: [name, holder, ttl_seconds],
            query: self.0,
            cached: self.1.as_ref(),
            extractor: |row| Ok(row.try_get(0)?),
            mapper: |it| it,
        }
    }
}
impl<'c, 'a, 's, C: GenericClient, T1: crate::StringSql, T2: crate::StringSql>
    crate::client::async_::Params<
        'c,
        'a,
        's,
        TakeRelayLeaseParams<T1, T2>,
        I64Query<'c, 'a, 's, C, i64, 3>,
        C,
    > for TakeRelayLeaseStmt
{
    fn params(
        &'s self,
        client: &'c C,
        params: &'a TakeRelayLeaseParams<T1, T2>,
    ) -> I64Query<'c, 'a, 's, C, i64, 3> {
        self.bind(client, &params.name, &params.holder, &params.ttl_seconds)
    }
}
pub struct ReleaseRelayLeaseStmt(&'static str, Option<tokio_postgres::Statement>);
/// Gives up the lease `name` if `holder` holds it (a stopping relay), so that another replica takes
/// over at once instead of after the lease expires. The row stays, with its term.
pub fn release_relay_lease() -> ReleaseRelayLeaseStmt {
    ReleaseRelayLeaseStmt(
        "UPDATE relay_leases SET expires_at = '-infinity' WHERE name = $1 AND holder = $2",
        None,
    )
}
impl ReleaseRelayLeaseStmt {
    pub async fn prepare<'a, C: GenericClient>(
        mut self,
        client: &'a C,
    ) -> Result<Self, tokio_postgres::Error> {
        self.1 = Some(client.prepare(self.0).await?);
        Ok(self)
    }
    pub async fn bind<'c, 'a, 's, C: GenericClient, T1: crate::StringSql, T2: crate::StringSql>(
        &'s self,
        client: &'c C,
        name: &'a T1,
        holder: &'a T2,
    ) -> Result<u64, tokio_postgres::Error> {
        client.execute(self.0, &[name, holder]).await
    }
}
impl<'a, C: GenericClient + Send + Sync, T1: crate::StringSql, T2: crate::StringSql>
    crate::client::async_::Params<
        'a,
        'a,
        'a,
        ReleaseRelayLeaseParams<T1, T2>,
        std::pin::Pin<
            Box<dyn futures::Future<Output = Result<u64, tokio_postgres::Error>> + Send + 'a>,
        >,
        C,
    > for ReleaseRelayLeaseStmt
{
    fn params(
        &'a self,
        client: &'a C,
        params: &'a ReleaseRelayLeaseParams<T1, T2>,
    ) -> std::pin::Pin<
        Box<dyn futures::Future<Output = Result<u64, tokio_postgres::Error>> + Send + 'a>,
    > {
        Box::pin(self.bind(client, &params.name, &params.holder))
    }
}
pub struct PendingEventsStmt(&'static str, Option<tokio_postgres::Statement>);
/// Up to `limit` unsent events (the outbox holds no other) by position, leaving out those at `skip`
/// (handed to the brokers, their acknowledgements outstanding: a hashed subplan, so a long list costs a
/// probe per row); the moment in microseconds since the Unix epoch (`extract` is exact: numeric).
pub fn pending_events() -> PendingEventsStmt {
    PendingEventsStmt(
        "SELECT seq, event_id::text AS event_id, order_id, status, (extract(epoch FROM moment) * 1000000)::bigint AS moment_micros, request_id, traceparent, tracestate FROM order_events WHERE seq NOT IN (SELECT unnest($1::bigint[])) ORDER BY seq LIMIT $2",
        None,
    )
}
impl PendingEventsStmt {
    pub async fn prepare<'a, C: GenericClient>(
        mut self,
        client: &'a C,
    ) -> Result<Self, tokio_postgres::Error> {
        self.1 = Some(client.prepare(self.0).await?);
        Ok(self)
    }
    pub fn bind<'c, 'a, 's, C: GenericClient, T1: crate::ArraySql<Item = i64>>(
        &'s self,
        client: &'c C,
        skip: &'a T1,
        limit: &'a i64,
    ) -> PendingEventsQuery<'c, 'a, 's, C, PendingEvents, 2> {
        PendingEventsQuery {
            client,
            params: [skip, limit],
            query: self.0,
            cached: self.1.as_ref(),
            extractor:
                |row: &tokio_postgres::Row| -> Result<PendingEventsBorrowed, tokio_postgres::Error> {
                    Ok(PendingEventsBorrowed {
                        seq: row.try_get(0)?,
                        event_id: row.try_get(1)?,
                        order_id: row.try_get(2)?,
                        status: row.try_get(3)?,
                        moment_micros: row.try_get(4)?,
                        request_id: row.try_get(5)?,
                        traceparent: row.try_get(6)?,
                        tracestate: row.try_get(7)?,
                    })
                },
            mapper: |it| PendingEvents::from(it),
        }
    }
}
impl<'c, 'a, 's, C: GenericClient, T1: crate::ArraySql<Item = i64>>
    crate::client::async_::Params<
        'c,
        'a,
        's,
        PendingEventsParams<T1>,
        PendingEventsQuery<'c, 'a, 's, C, PendingEvents, 2>,
        C,
    > for PendingEventsStmt
{
    fn params(
        &'s self,
        client: &'c C,
        params: &'a PendingEventsParams<T1>,
    ) -> PendingEventsQuery<'c, 'a, 's, C, PendingEvents, 2> {
        self.bind(client, &params.skip, &params.limit)
    }
}
pub struct MarkEventsSentStmt(&'static str, Option<tokio_postgres::Statement>);
/// Takes the events at `seqs` out of the outbox: they are sent. Returns the positions it took (those
/// not taken before).
pub fn mark_events_sent() -> MarkEventsSentStmt {
    MarkEventsSentStmt(
        "DELETE FROM order_events WHERE seq = ANY($1::bigint[]) RETURNING seq",
        None,
    )
}
impl MarkEventsSentStmt {
    pub async fn prepare<'a, C: GenericClient>(
        mut self,
        client: &'a C,
    ) -> Result<Self, tokio_postgres::Error> {
        self.1 = Some(client.prepare(self.0).await?);
        Ok(self)
    }
    pub fn bind<'c, 'a, 's, C: GenericClient, T1: crate::ArraySql<Item = i64>>(
        &'s self,
        client: &'c C,
        seqs: &'a T1,
    ) -> I64Query<'c, 'a, 's, C, i64, 1> {
        I64Query {
            client,
            params: [seqs],
            query: self.0,
            cached: self.1.as_ref(),
            extractor: |row| Ok(row.try_get(0)?),
            mapper: |it| it,
        }
    }
}
pub struct OutboxBacklogStmt(&'static str, Option<tokio_postgres::Statement>);
/// How many events are unsent, and how many seconds the oldest has waited (0 when none).
pub fn outbox_backlog() -> OutboxBacklogStmt {
    OutboxBacklogStmt(
        "SELECT count(*) AS pending, coalesce(extract(epoch FROM clock_timestamp() - min(moment)), 0)::float8 AS oldest_seconds FROM order_events",
        None,
    )
}
impl OutboxBacklogStmt {
    pub async fn prepare<'a, C: GenericClient>(
        mut self,
        client: &'a C,
    ) -> Result<Self, tokio_postgres::Error> {
        self.1 = Some(client.prepare(self.0).await?);
        Ok(self)
    }
    pub fn bind<'c, 'a, 's, C: GenericClient>(
        &'s self,
        client: &'c C,
    ) -> OutboxBacklogQuery<'c, 'a, 's, C, OutboxBacklog, 0> {
        OutboxBacklogQuery {
            client,
            params: [],
            query: self.0,
            cached: self.1.as_ref(),
            extractor: |row: &tokio_postgres::Row| -> Result<OutboxBacklog, tokio_postgres::Error> {
                Ok(OutboxBacklog {
                    pending: row.try_get(0)?,
                    oldest_seconds: row.try_get(1)?,
                })
            },
            mapper: |it| OutboxBacklog::from(it),
        }
    }
}
pub struct RelayOffsetsStmt(&'static str, Option<tokio_postgres::Statement>);
/// Per partition of the lease's topic, where the records begin whose events may still be in the outbox.
pub fn relay_offsets() -> RelayOffsetsStmt {
    RelayOffsetsStmt(
        "SELECT partition, next_offset FROM relay_offsets WHERE lease = $1",
        None,
    )
}
impl RelayOffsetsStmt {
    pub async fn prepare<'a, C: GenericClient>(
        mut self,
        client: &'a C,
    ) -> Result<Self, tokio_postgres::Error> {
        self.1 = Some(client.prepare(self.0).await?);
        Ok(self)
    }
    pub fn bind<'c, 'a, 's, C: GenericClient, T1: crate::StringSql>(
        &'s self,
        client: &'c C,
        lease: &'a T1,
    ) -> RelayOffsetsQuery<'c, 'a, 's, C, RelayOffsets, 1> {
        RelayOffsetsQuery {
            client,
            params: [lease],
            query: self.0,
            cached: self.1.as_ref(),
            extractor: |row: &tokio_postgres::Row| -> Result<RelayOffsets, tokio_postgres::Error> {
                Ok(RelayOffsets {
                    partition: row.try_get(0)?,
                    next_offset: row.try_get(1)?,
                })
            },
            mapper: |it| RelayOffsets::from(it),
        }
    }
}
pub struct AdvanceRelayOffsetsStmt(&'static str, Option<tokio_postgres::Statement>);
/// Moves the lease's offsets forward to `next_offsets` (per partition of `partitions`); never back.
pub fn advance_relay_offsets() -> AdvanceRelayOffsetsStmt {
    AdvanceRelayOffsetsStmt(
        "INSERT INTO relay_offsets (lease, partition, next_offset) SELECT $1, partition, next_offset FROM unnest($2::integer[], $3::bigint[]) AS advanced (partition, next_offset) ON CONFLICT (lease, partition) DO UPDATE SET next_offset = greatest(relay_offsets.next_offset, excluded.next_offset)",
        None,
    )
}
impl AdvanceRelayOffsetsStmt {
    pub async fn prepare<'a, C: GenericClient>(
        mut self,
        client: &'a C,
    ) -> Result<Self, tokio_postgres::Error> {
        self.1 = Some(client.prepare(self.0).await?);
        Ok(self)
    }
    pub async fn bind<
        'c,
        'a,
        's,
        C: GenericClient,
        T1: crate::StringSql,
        T2: crate::ArraySql<Item = i32>,
        T3: crate::ArraySql<Item = i64>,
    >(
        &'s self,
        client: &'c C,
        lease: &'a T1,
        partitions: &'a T2,
        next_offsets: &'a T3,
    ) -> Result<u64, tokio_postgres::Error> {
        client
            .execute(self.0, &[lease, partitions, next_offsets])
            .await
    }
}
impl<
    'a,
    C: GenericClient + Send + Sync,
    T1: crate::StringSql,
    T2: crate::ArraySql<Item = i32>,
    T3: crate::ArraySql<Item = i64>,
>
    crate::client::async_::Params<
        'a,
        'a,
        'a,
        AdvanceRelayOffsetsParams<T1, T2, T3>,
        std::pin::Pin<
            Box<dyn futures::Future<Output = Result<u64, tokio_postgres::Error>> + Send + 'a>,
        >,
        C,
    > for AdvanceRelayOffsetsStmt
{
    fn params(
        &'a self,
        client: &'a C,
        params: &'a AdvanceRelayOffsetsParams<T1, T2, T3>,
    ) -> std::pin::Pin<
        Box<dyn futures::Future<Output = Result<u64, tokio_postgres::Error>> + Send + 'a>,
    > {
        Box::pin(self.bind(
            client,
            &params.lease,
            &params.partitions,
            &params.next_offsets,
        ))
    }
}
pub struct ForgetPublishedEventsStmt(&'static str, Option<tokio_postgres::Statement>);
/// Takes out of the outbox the events `event_ids` found in the topic: a relay committed them and was
/// stopped before it took them out. Returns how many it took.
pub fn forget_published_events() -> ForgetPublishedEventsStmt {
    ForgetPublishedEventsStmt(
        "WITH taken AS ( DELETE FROM order_events WHERE event_id = ANY($1::uuid[]) RETURNING 1 ) SELECT count(*) AS taken FROM taken",
        None,
    )
}
impl ForgetPublishedEventsStmt {
    pub async fn prepare<'a, C: GenericClient>(
        mut self,
        client: &'a C,
    ) -> Result<Self, tokio_postgres::Error> {
        self.1 = Some(client.prepare(self.0).await?);
        Ok(self)
    }
    pub fn bind<'c, 'a, 's, C: GenericClient, T1: crate::ArraySql<Item = uuid::Uuid>>(
        &'s self,
        client: &'c C,
        event_ids: &'a T1,
    ) -> I64Query<'c, 'a, 's, C, i64, 1> {
        I64Query {
            client,
            params: [event_ids],
            query: self.0,
            cached: self.1.as_ref(),
            extractor: |row| Ok(row.try_get(0)?),
            mapper: |it| it,
        }
    }
}
