//! amqp adapter (being written).
