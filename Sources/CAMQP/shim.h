#ifndef SCHOOLICT_CAMQP_SHIM_H
#define SCHOOLICT_CAMQP_SHIM_H

#if __has_include(<rabbitmq-c/amqp.h>)
#include <rabbitmq-c/amqp.h>
#include <rabbitmq-c/tcp_socket.h>
#include <rabbitmq-c/ssl_socket.h>
#else
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <amqp_ssl_socket.h>
#endif

#include <stdlib.h>
#include <string.h>

/// `amqp_login` is variadic, which Swift cannot call.
static inline amqp_rpc_reply_t camqp_login_plain(amqp_connection_state_t state, const char *vhost,
                                                 int channel_max, int frame_max, int heartbeat,
                                                 const char *user, const char *password) {
    return amqp_login(state, vhost, channel_max, frame_max, heartbeat, AMQP_SASL_METHOD_PLAIN, user, password);
}

/// The same with client properties (e.g. `connection_name`, shown in the management UI).
static inline amqp_rpc_reply_t camqp_login_plain_with_properties(amqp_connection_state_t state, const char *vhost,
                                                                 int channel_max, int frame_max, int heartbeat,
                                                                 const amqp_table_t *properties,
                                                                 const char *user, const char *password) {
    return amqp_login_with_properties(state, vhost, channel_max, frame_max, heartbeat, properties,
                                      AMQP_SASL_METHOD_PLAIN, user, password);
}

/// Bytes view of a NUL-terminated C string that the caller keeps alive for the call.
static inline amqp_bytes_t camqp_bytes(const char *s) {
    amqp_bytes_t b;
    b.len = strlen(s);
    b.bytes = (void *)s;
    return b;
}

static inline amqp_bytes_t camqp_bytes_len(const void *p, size_t len) {
    amqp_bytes_t b;
    b.len = len;
    b.bytes = (void *)p;
    return b;
}

static inline amqp_table_t camqp_empty_table(void) { return amqp_empty_table; }
static inline amqp_bytes_t camqp_empty_bytes(void) { return amqp_empty_bytes; }


/// Method ids and property flags are macros with casts, which Swift does not import.
static const amqp_method_number_t CAMQP_BASIC_ACK_METHOD = AMQP_BASIC_ACK_METHOD;
static const amqp_method_number_t CAMQP_BASIC_NACK_METHOD = AMQP_BASIC_NACK_METHOD;
static const amqp_method_number_t CAMQP_BASIC_RETURN_METHOD = AMQP_BASIC_RETURN_METHOD;
static const amqp_method_number_t CAMQP_CHANNEL_CLOSE_METHOD = AMQP_CHANNEL_CLOSE_METHOD;
static const amqp_method_number_t CAMQP_CONNECTION_CLOSE_METHOD = AMQP_CONNECTION_CLOSE_METHOD;
static const amqp_method_number_t CAMQP_BASIC_CANCEL_METHOD = AMQP_BASIC_CANCEL_METHOD;
static const amqp_method_number_t CAMQP_BASIC_CANCEL_OK_METHOD = AMQP_BASIC_CANCEL_OK_METHOD;
static const amqp_method_number_t CAMQP_BASIC_DELIVER_METHOD = AMQP_BASIC_DELIVER_METHOD;
static const amqp_flags_t CAMQP_PROPS_CONTENT_TYPE = AMQP_BASIC_CONTENT_TYPE_FLAG;
static const amqp_flags_t CAMQP_PROPS_HEADERS = AMQP_BASIC_HEADERS_FLAG;
static const amqp_flags_t CAMQP_PROPS_DELIVERY_MODE = AMQP_BASIC_DELIVERY_MODE_FLAG;
static const amqp_flags_t CAMQP_PROPS_CORRELATION_ID = AMQP_BASIC_CORRELATION_ID_FLAG;
static const amqp_flags_t CAMQP_PROPS_MESSAGE_ID = AMQP_BASIC_MESSAGE_ID_FLAG;
static const amqp_flags_t CAMQP_PROPS_TIMESTAMP = AMQP_BASIC_TIMESTAMP_FLAG;
static const amqp_flags_t CAMQP_PROPS_USER_ID = AMQP_BASIC_USER_ID_FLAG;

#endif
