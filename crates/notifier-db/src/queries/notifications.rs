// This file was generated with `cornucopia`. Do not modify.

#[derive(Debug)]
pub struct RecordNotificationParams<
    T1: crate::StringSql,
    T2: crate::StringSql,
    T3: crate::StringSql,
    T4: crate::StringSql,
    T5: crate::StringSql,
> {
    pub topic: T1,
    pub partition: i32,
    pub next_offset: i64,
    pub event_id: T2,
    pub order_id: i64,
    pub status: T3,
    pub moment: T4,
    pub request_id: Option<T5>,
}
#[derive(Debug)]
pub struct SkipEventParams<T1: crate::StringSql> {
    pub topic: T1,
    pub partition: i32,
    pub next_offset: i64,
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
pub struct RecordNotificationStmt(&'static str, Option<tokio_postgres::Statement>);
/// In one statement, inside the transaction of the caller's batch: moves the partition's next offset
/// past the event (never back: a consumer that lost the partition may finish its last event late) and
/// records the notification unless the event id was recorded before. Returns the notification's id — also when
/// the row is this very record's (same position), written by an attempt whose answer was lost — or no
/// row when the event was notified from another record (a re-send).
pub fn record_notification() -> RecordNotificationStmt {
    RecordNotificationStmt(
        "WITH consumed AS ( INSERT INTO consumer_offsets (topic, partition, next_offset) VALUES ($1, $2, $3) ON CONFLICT (topic, partition) DO UPDATE SET next_offset = greatest(consumer_offsets.next_offset, excluded.next_offset) ) INSERT INTO notifications (event_id, order_id, status, moment, request_id, topic, partition, \"offset\") VALUES ($4, $5, $6, $7::text::timestamptz, $8, $1, $2, $3 - 1) ON CONFLICT (event_id) DO UPDATE SET event_id = excluded.event_id WHERE notifications.topic = excluded.topic AND notifications.partition = excluded.partition AND notifications.\"offset\" = excluded.\"offset\" RETURNING id",
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
        T5: crate::StringSql,
    >(
        &'s self,
        client: &'c C,
        topic: &'a T1,
        partition: &'a i32,
        next_offset: &'a i64,
        event_id: &'a T2,
        order_id: &'a i64,
        status: &'a T3,
        moment: &'a T4,
        request_id: &'a Option<T5>,
    ) -> I64Query<'c, 'a, 's, C, i64, 8> {
        I64Query {
            client,
            params: [
                topic,
                partition,
                next_offset,
                event_id,
                order_id,
                status,
                moment,
                request_id,
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
    T5: crate::StringSql,
>
    crate::client::async_::Params<
        'c,
        'a,
        's,
        RecordNotificationParams<T1, T2, T3, T4, T5>,
        I64Query<'c, 'a, 's, C, i64, 8>,
        C,
    > for RecordNotificationStmt
{
    fn params(
        &'s self,
        client: &'c C,
        params: &'a RecordNotificationParams<T1, T2, T3, T4, T5>,
    ) -> I64Query<'c, 'a, 's, C, i64, 8> {
        self.bind(
            client,
            &params.topic,
            &params.partition,
            &params.next_offset,
            &params.event_id,
            &params.order_id,
            &params.status,
            &params.moment,
            &params.request_id,
        )
    }
}
pub struct SkipEventStmt(&'static str, Option<tokio_postgres::Statement>);
/// Moves the partition's next offset past an event that cannot be notified (malformed); returns it.
pub fn skip_event() -> SkipEventStmt {
    SkipEventStmt(
        "INSERT INTO consumer_offsets (topic, partition, next_offset) VALUES ($1, $2, $3) ON CONFLICT (topic, partition) DO UPDATE SET next_offset = greatest(consumer_offsets.next_offset, excluded.next_offset) RETURNING next_offset",
        None,
    )
}
impl SkipEventStmt {
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
        next_offset: &'a i64,
    ) -> I64Query<'c, 'a, 's, C, i64, 3> {
        I64Query {
            client,
            params: [topic, partition, next_offset],
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
        SkipEventParams<T1>,
        I64Query<'c, 'a, 's, C, i64, 3>,
        C,
    > for SkipEventStmt
{
    fn params(
        &'s self,
        client: &'c C,
        params: &'a SkipEventParams<T1>,
    ) -> I64Query<'c, 'a, 's, C, i64, 3> {
        self.bind(
            client,
            &params.topic,
            &params.partition,
            &params.next_offset,
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
