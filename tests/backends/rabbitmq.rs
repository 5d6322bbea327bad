//! rabbitmq backend suite (being written).
