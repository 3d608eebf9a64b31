#ifndef SCHOOLICT_CCURL_SHIM_H
#define SCHOOLICT_CCURL_SHIM_H

#include <curl/curl.h>
#include <stddef.h>
#include <string.h>

// curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call: one typed wrapper per
// argument type. The option constants themselves are enum values Swift imports as they are.

static inline CURLcode ccurl_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_setopt_off(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

// MARK: Upload from memory

/// The bytes of one message being uploaded; the caller keeps `data` alive for the transfer.
struct ccurl_upload {
    const char *data;
    size_t length;
    size_t offset;
};

static inline size_t ccurl_upload_read(char *buffer, size_t size, size_t count, void *userdata) {
    struct ccurl_upload *upload = (struct ccurl_upload *)userdata;
    size_t room = size * count;
    size_t left = upload->length - upload->offset;
    size_t n = left < room ? left : room;
    if (n > 0) {
        memcpy(buffer, upload->data + upload->offset, n);
        upload->offset += n;
    }
    return n;
}

/// Makes the next transfer upload `upload` (as SMTP DATA); libcurl does the dot-stuffing.
static inline CURLcode ccurl_set_upload(CURL *handle, struct ccurl_upload *upload) {
    CURLcode status = curl_easy_setopt(handle, CURLOPT_UPLOAD, 1L);
    if (status == CURLE_OK) status = curl_easy_setopt(handle, CURLOPT_READFUNCTION, ccurl_upload_read);
    if (status == CURLE_OK) status = curl_easy_setopt(handle, CURLOPT_READDATA, (void *)upload);
    if (status == CURLE_OK) status = curl_easy_setopt(handle, CURLOPT_INFILESIZE_LARGE, (curl_off_t)upload->length);
    return status;
}

// MARK: The server's last reply line

/// The last line the server sent (e.g. `451 4.3.0 try again later`), captured through the debug callback:
/// libcurl reports the numeric reply code (CURLINFO_RESPONSE_CODE) but not its text.
struct ccurl_reply {
    char text[256];
};

static inline int ccurl_debug_capture(CURL *handle, curl_infotype type, char *data, size_t size, void *userdata) {
    (void)handle;
    if (type != CURLINFO_HEADER_IN || userdata == NULL) return 0;
    struct ccurl_reply *reply = (struct ccurl_reply *)userdata;
    while (size > 0 && (data[size - 1] == '\n' || data[size - 1] == '\r')) size--;
    if (size >= sizeof(reply->text)) size = sizeof(reply->text) - 1;
    memcpy(reply->text, data, size);
    reply->text[size] = '\0';
    return 0;
}

/// Captures every server reply line into `reply` (the last one stays). Turns on CURLOPT_VERBOSE, whose output
/// then goes to the callback only.
static inline CURLcode ccurl_capture_replies(CURL *handle, struct ccurl_reply *reply) {
    CURLcode status = curl_easy_setopt(handle, CURLOPT_DEBUGFUNCTION, ccurl_debug_capture);
    if (status == CURLE_OK) status = curl_easy_setopt(handle, CURLOPT_DEBUGDATA, (void *)reply);
    if (status == CURLE_OK) status = curl_easy_setopt(handle, CURLOPT_VERBOSE, 1L);
    return status;
}

// MARK: Download into memory

/// A response body collected in memory, at most `capacity` bytes (the rest is counted in `dropped`).
struct ccurl_download {
    char *data;
    size_t capacity;
    size_t length;
    size_t dropped;
};

static inline size_t ccurl_download_write(char *buffer, size_t size, size_t count, void *userdata) {
    struct ccurl_download *download = (struct ccurl_download *)userdata;
    size_t n = size * count;
    size_t room = download->capacity - download->length;
    size_t take = n < room ? n : room;
    if (take > 0) {
        memcpy(download->data + download->length, buffer, take);
        download->length += take;
    }
    download->dropped += n - take;
    return n;
}

/// Makes the next transfer write its response body into `download`.
static inline CURLcode ccurl_set_download(CURL *handle, struct ccurl_download *download) {
    CURLcode status = curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, ccurl_download_write);
    if (status == CURLE_OK) status = curl_easy_setopt(handle, CURLOPT_WRITEDATA, (void *)download);
    return status;
}

#endif
