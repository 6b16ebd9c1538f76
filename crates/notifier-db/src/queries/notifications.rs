// This file was generated with `cornucopia`. Do not modify.

#[derive(Debug)]
pub struct ClaimRunParams<T1: crate::StringSql, T2: crate::StringSql> {
    pub topic: T1,
    pub partition: i32,
    pub next_offset: i64,
    pub holder: T2,
    pub expected: Option<i64>,
}
#[derive(Debug)]
pub struct StoredOffsetParams<T1: crate::StringSql> {
    pub topic: T1,
    pub partition: i32,
}
#[derive(Debug)]
pub struct RecordNotificationParams<
    T1: crate::StringSql,
    T2: crate::StringSql,
    T3: crate::StringSql,
    T4: crate::StringSql,
> {
    pub event_id: T1,
    pub order_id: i64,
    pub status: T2,
    pub moment_micros: i64,
    pub request_id: T3,
    pub topic: T4,
    pub partition: i32,
    pub offset: i64,
}
#[derive(Debug)]
pub struct RecordDeadLetterParams<
    T1: crate::StringSql,
    T2: crate::BytesSql,
    T3: crate::StringSql,
    T4: crate::BytesSql,
    T5: crate::StringSql,
    T6: crate::StringSql,
> {
    pub topic: T1,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<T2>,
    pub headers: T3,
    pub value: Option<T4>,
    pub reason: T5,
    pub detail: T6,
}
#[derive(Debug, Clone, PartialEq, Copy)]
pub struct ConsumerOffsets {
    pub partition: i32,
    pub next_offset: i64,
}
#[derive(Debug, Clone, PartialEq)]
pub struct OrderNotifications {
    pub status: String,
    pub event_id: String,
    pub request_id: Option<String>,
}
pub struct OrderNotificationsBorrowed<'a> {
    pub status: &'a str,
    pub event_id: &'a str,
    pub request_id: Option<&'a str>,
}
impl<'a> From<OrderNotificationsBorrowed<'a>> for OrderNotifications {
    fn from(
        OrderNotificationsBorrowed {
            status,
            event_id,
            request_id,
        }: OrderNotificationsBorrowed<'a>,
    ) -> Self {
        Self {
            status: status.into(),
            event_id: event_id.into(),
            request_id: request_id.map(|v| v.into()),
        }
    }
}
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLettersOf {
    pub partition: i32,
    pub offset: i64,
    pub reason: String,
    pub detail: String,
}
pub struct DeadLettersOfBorrowed<'a> {
    pub partition: i32,
    pub offset: i64,
    pub reason: &'a str,
    pub detail: &'a str,
}
impl<'a> From<DeadLettersOfBorrowed<'a>> for DeadLettersOf {
    fn from(
        DeadLettersOfBorrowed {
            partition,
            offset,
            reason,
            detail,
        }: DeadLettersOfBorrowed<'a>,
    ) -> Self {
        Self {
            partition,
            offset,
            reason: reason.into(),
            detail: detail.into(),
        }
    }
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
pub struct ConsumerOffsetsQuery<'c, 'a, 's, C: GenericClient, T, const N: usize> {
    client: &'c C,
    params: [&'a (dyn postgres_types::ToSql + Sync); N],
    query: &'static str,
    cached: Option<&'s tokio_postgres::Statement>,
    extractor: fn(&tokio_postgres::Row) -> Result<ConsumerOffsets, tokio_postgres::Error>,
    mapper: fn(ConsumerOffsets) -> T,
}
impl<'c, 'a, 's, C, T: 'c, const N: usize> ConsumerOffsetsQuery<'c, 'a, 's, C, T, N>
where
    C: GenericClient,
{
    pub fn map<R>(
        self,
        mapper: fn(ConsumerOffsets) -> R,
    ) -> ConsumerOffsetsQuery<'c, 'a, 's, C, R, N> {
        ConsumerOffsetsQuery {
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
pub struct OrderNotificationsQuery<'c, 'a, 's, C: GenericClient, T, const N: usize> {
    client: &'c C,
    params: [&'a (dyn postgres_types::ToSql + Sync); N],
    query: &'static str,
    cached: Option<&'s tokio_postgres::Statement>,
    extractor:
        fn(&tokio_postgres::Row) -> Result<OrderNotificationsBorrowed, tokio_postgres::Error>,
    mapper: fn(OrderNotificationsBorrowed) -> T,
}
impl<'c, 'a, 's, C, T: 'c, const N: usize> OrderNotificationsQuery<'c, 'a, 's, C, T, N>
where
    C: GenericClient,
{
    pub fn map<R>(
        self,
        mapper: fn(OrderNotificationsBorrowed) -> R,
    ) -> OrderNotificationsQuery<'c, 'a, 's, C, R, N> {
        OrderNotificationsQuery {
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
pub struct DeadLettersOfQuery<'c, 'a, 's, C: GenericClient, T, const N: usize> {
    client: &'c C,
    params: [&'a (dyn postgres_types::ToSql + Sync); N],
    query: &'static str,
    cached: Option<&'s tokio_postgres::Statement>,
    extractor: fn(&tokio_postgres::Row) -> Result<DeadLettersOfBorrowed, tokio_postgres::Error>,
    mapper: fn(DeadLettersOfBorrowed) -> T,
}
impl<'c, 'a, 's, C, T: 'c, const N: usize> DeadLettersOfQuery<'c, 'a, 's, C, T, N>
where
    C: GenericClient,
{
    pub fn map<R>(
        self,
        mapper: fn(DeadLettersOfBorrowed) -> R,
    ) -> DeadLettersOfQuery<'c, 'a, 's, C, R, N> {
        DeadLettersOfQuery {
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
pub struct ClaimRunStmt(&'static str, Option<tokio_postgres::Statement>);
/// First statement of a run of records of one partition, inside the transaction that stores them:
/// moves the partition's next offset to `next_offset` for `holder` if it stands at `expected` (none:
/// the partition has no row yet), or if `holder`'s own earlier attempt at this very run put it there
/// (that attempt committed, its answer was lost). Returns the new offset, or no row: another member
/// moved the partition since `holder` last read it, and the run is not this member's to store. The
/// row's lock holds a racing member until this transaction ends; it then finds the offset moved.
pub fn claim_run() -> ClaimRunStmt {
    ClaimRunStmt(
        "INSERT INTO consumer_offsets (topic, partition, next_offset, holder) VALUES ($1, $2, $3, $4) ON CONFLICT (topic, partition) DO UPDATE SET next_offset = excluded.next_offset, holder = excluded.holder WHERE consumer_offsets.next_offset = $5 OR (consumer_offsets.holder = excluded.holder AND consumer_offsets.next_offset = excluded.next_offset) RETURNING next_offset",
        None,
    )
}
impl ClaimRunStmt {
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
        topic: &'a T1,
        partition: &'a i32,
        next_offset: &'a i64,
        holder: &'a T2,
        expected: &'a Option<i64>,
    ) -> I64Query<'c, 'a, 's, C, i64, 5> {
        I64Query {
            client,
            params: [topic, partition, next_offset, holder, expected],
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
        ClaimRunParams<T1, T2>,
        I64Query<'c, 'a, 's, C, i64, 5>,
        C,
    > for ClaimRunStmt
{
    fn params(
        &'s self,
        client: &'c C,
        params: &'a ClaimRunParams<T1, T2>,
    ) -> I64Query<'c, 'a, 's, C, i64, 5> {
        self.bind(
            client,
            &params.topic,
            &params.partition,
            &params.next_offset,
            &params.holder,
            &params.expected,
        )
    }
}
pub struct StoredOffsetStmt(&'static str, Option<tokio_postgres::Statement>);
/// The partition's next offset, if it has one.
pub fn stored_offset() -> StoredOffsetStmt {
    StoredOffsetStmt(
        "SELECT next_offset FROM consumer_offsets WHERE topic = $1 AND partition = $2",
        None,
    )
}
impl StoredOffsetStmt {
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
        topic: &'a T1,
        partition: &'a i32,
    ) -> I64Query<'c, 'a, 's, C, i64, 2> {
        I64Query {
            client,
            params: [topic, partition],
            query: self.0,
            cached: self.1.as_ref(),
            extractor: |row| Ok(row.try_get(0)?),
            mapper: |it| it,
        }
    }
}
impl<'c, 'a, 's, C: GenericClient, T1: crate::StringSql>
    crate::client::async_::Params<
        'c,
        'a,
        's,
        StoredOffsetParams<T1>,
        I64Query<'c, 'a, 's, C, i64, 2>,
        C,
    > for StoredOffsetStmt
{
    fn params(
        &'s self,
        client: &'c C,
        params: &'a StoredOffsetParams<T1>,
    ) -> I64Query<'c, 'a, 's, C, i64, 2> {
        self.bind(client, &params.topic, &params.partition)
    }
}
pub struct RecordNotificationStmt(&'static str, Option<tokio_postgres::Statement>);
/// Records the notification of an event read at `topic`/`partition`/`offset` unless its event id was
/// recorded before. Returns the notification's id — also when the row is this very record's (same
/// position), written by an attempt whose answer was lost — or no row when the event was notified
/// from another record (a re-send).
pub fn record_notification() -> RecordNotificationStmt {
    RecordNotificationStmt(
        "INSERT INTO notifications (event_id, order_id, status, moment, request_id, topic, partition, \"offset\") VALUES ($1, $2, $3, timestamptz 'epoch' + $4::bigint * interval '1 microsecond', $5, $6, $7, $8) ON CONFLICT (event_id) DO UPDATE SET event_id = excluded.event_id WHERE notifications.topic = excluded.topic AND notifications.partition = excluded.partition AND notifications.\"offset\" = excluded.\"offset\" RETURNING id",
        None,
    )
}
impl RecordNotificationStmt {
    pub async fn prepare<'a, C: GenericClient>(
        mut self,
        client: &'a C,
    ) -> Result<Self, tokio_postgres::Error> {
        self.1 = Some(client.prepare(self.0).await?);
        Ok(self)
    }
    pub fn bind<
        'c,
        'a,
        's,
        C: GenericClient,
        T1: crate::StringSql,
        T2: crate::StringSql,
        T3: crate::StringSql,
        T4: crate::StringSql,
    >(
        &'s self,
        client: &'c C,
        event_id: &'a T1,
        order_id: &'a i64,
        status: &'a T2,
        moment_micros: &'a i64,
        request_id: &'a T3,
        topic: &'a T4,
        partition: &'a i32,
        offset: &'a i64,
    ) -> I64Query<'c, 'a, 's, C, i64, 8> {
        I64Query {
            client,
            params: [
                event_id,
                order_id,
                status,
                moment_micros,
                request_id,
                topic,
                partition,
                offset,
            ],
            query: self.0,
            cached: self.1.as_ref(),
            extractor: |row| Ok(row.try_get(0)?),
            mapper: |it| it,
        }
    }
}
impl<
    'c,
    'a,
    's,
    C: GenericClient,
    T1: crate::StringSql,
    T2: crate::StringSql,
    T3: crate::StringSql,
    T4: crate::StringSql,
>
    crate::client::async_::Params<
        'c,
        'a,
        's,
        RecordNotificationParams<T1, T2, T3, T4>,
        I64Query<'c, 'a, 's, C, i64, 8>,
        C,
    > for RecordNotificationStmt
{
    fn params(
        &'s self,
        client: &'c C,
        params: &'a RecordNotificationParams<T1, T2, T3, T4>,
    ) -> I64Query<'c, 'a, 's, C, i64, 8> {
        self.bind(
            client,
            &params.event_id,
            &params.order_id,
            &params.status,
            &params.moment_micros,
            &params.request_id,
            &params.topic,
            &params.partition,
            &params.offset,
        )
    }
}
pub struct RecordDeadLetterStmt(&'static str, Option<tokio_postgres::Statement>);
/// Keeps a record that can never be notified, with why; returns its id (also when this very record
/// was kept by an attempt whose answer was lost).
pub fn record_dead_letter() -> RecordDeadLetterStmt {
    RecordDeadLetterStmt(
        "INSERT INTO dead_letters (topic, partition, \"offset\", key, headers, value, reason, detail) VALUES ($1, $2, $3, $4, $5::text::jsonb, $6, $7, $8) ON CONFLICT (topic, partition, \"offset\") DO UPDATE SET reason = dead_letters.reason RETURNING id",
        None,
    )
}
impl RecordDeadLetterStmt {
    pub async fn prepare<'a, C: GenericClient>(
        mut self,
        client: &'a C,
    ) -> Result<Self, tokio_postgres::Error> {
        self.1 = Some(client.prepare(self.0).await?);
        Ok(self)
    }
    pub fn bind<
        'c,
        'a,
        's,
        C: GenericClient,
        T1: crate::StringSql,
        T2: crate::BytesSql,
        T3: crate::StringSql,
        T4: crate::BytesSql,
        T5: crate::StringSql,
        T6: crate::StringSql,
    >(
        &'s self,
        client: &'c C,
        topic: &'a T1,
        partition: &'a i32,
        offset: &'a i64,
        key: &'a Option<T2>,
        headers: &'a T3,
        value: &'a Option<T4>,
        reason: &'a T5,
        detail: &'a T6,
    ) -> I64Query<'c, 'a, 's, C, i64, 8> {
        I64Query {
            client,
            params: [
                topic, partition, offset, key, headers, value, reason, detail,
            ],
            query: self.0,
            cached: self.1.as_ref(),
            extractor: |row| Ok(row.try_get(0)?),
            mapper: |it| it,
        }
    }
}
impl<
    'c,
    'a,
    's,
    C: GenericClient,
    T1: crate::StringSql,
    T2: crate::BytesSql,
    T3: crate::StringSql,
    T4: crate::BytesSql,
    T5: crate::StringSql,
    T6: crate::StringSql,
>
    crate::client::async_::Params<
        'c,
        'a,
        's,
        RecordDeadLetterParams<T1, T2, T3, T4, T5, T6>,
        I64Query<'c, 'a, 's, C, i64, 8>,
        C,
    > for RecordDeadLetterStmt
{
    fn params(
        &'s self,
        client: &'c C,
        params: &'a RecordDeadLetterParams<T1, T2, T3, T4, T5, T6>,
    ) -> I64Query<'c, 'a, 's, C, i64, 8> {
        self.bind(
            client,
            &params.topic,
            &params.partition,
            &params.offset,
            &params.key,
            &params.headers,
            &params.value,
            &params.reason,
            &params.detail,
        )
    }
}
pub struct ConsumerOffsetsStmt(&'static str, Option<tokio_postgres::Statement>);
/// The next offset of every partition of `topic` consumed so far.
pub fn consumer_offsets() -> ConsumerOffsetsStmt {
    ConsumerOffsetsStmt(
        "SELECT partition, next_offset FROM consumer_offsets WHERE topic = $1",
        None,
    )
}
impl ConsumerOffsetsStmt {
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
        topic: &'a T1,
    ) -> ConsumerOffsetsQuery<'c, 'a, 's, C, ConsumerOffsets, 1> {
        ConsumerOffsetsQuery {
            client,
            params: [topic],
            query: self.0,
            cached: self.1.as_ref(),
            extractor:
                |row: &tokio_postgres::Row| -> Result<ConsumerOffsets, tokio_postgres::Error> {
                    Ok(ConsumerOffsets {
                        partition: row.try_get(0)?,
                        next_offset: row.try_get(1)?,
                    })
                },
            mapper: |it| ConsumerOffsets::from(it),
        }
    }
}
pub struct OrderNotificationsStmt(&'static str, Option<tokio_postgres::Statement>);
/// An order's notifications, in the order they were made (what the tests and the benchmark read).
pub fn order_notifications() -> OrderNotificationsStmt {
    OrderNotificationsStmt(
        "SELECT status, event_id, request_id FROM notifications WHERE order_id = $1 ORDER BY id",
        None,
    )
}
impl OrderNotificationsStmt {
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
        order_id: &'a i64,
    ) -> OrderNotificationsQuery<'c, 'a, 's, C, OrderNotifications, 1> {
        OrderNotificationsQuery {
            client,
            params: [order_id],
            query: self.0,
            cached: self.1.as_ref(),
            extractor: |
                row: &tokio_postgres::Row,
            | -> Result<OrderNotificationsBorrowed, tokio_postgres::Error> {
                Ok(OrderNotificationsBorrowed {
                    status: row.try_get(0)?,
                    event_id: row.try_get(1)?,
                    request_id: row.try_get(2)?,
                })
            },
            mapper: |it| OrderNotifications::from(it),
        }
    }
}
pub struct DeadLettersOfStmt(&'static str, Option<tokio_postgres::Statement>);
/// The dead letters of `topic`, by position (what the tests read).
pub fn dead_letters_of() -> DeadLettersOfStmt {
    DeadLettersOfStmt(
        "SELECT partition, \"offset\", reason, detail FROM dead_letters WHERE topic = $1 ORDER BY partition, \"offset\"",
        None,
    )
}
impl DeadLettersOfStmt {
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
        topic: &'a T1,
    ) -> DeadLettersOfQuery<'c, 'a, 's, C, DeadLettersOf, 1> {
        DeadLettersOfQuery {
            client,
            params: [topic],
            query: self.0,
            cached: self.1.as_ref(),
            extractor:
                |row: &tokio_postgres::Row| -> Result<DeadLettersOfBorrowed, tokio_postgres::Error> {
                    Ok(DeadLettersOfBorrowed {
                        partition: row.try_get(0)?,
                        offset: row.try_get(1)?,
                        reason: row.try_get(2)?,
                        detail: row.try_get(3)?,
                    })
                },
            mapper: |it| DeadLettersOf::from(it),
        }
    }
}
