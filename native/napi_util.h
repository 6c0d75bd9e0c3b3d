// What both N-API classes (binding.cc's ServerHandle, client/handle.cc's
// ClientHandle) need: errors with a stable code, option reads, and the
// uv_poll that watches a reactor's epoll descriptor from node's loop.
#pragma once
#include <napi.h>
#include <uv.h>

#include <string>

namespace farad::napi {

inline Napi::Error make_error(Napi::Env env, const std::string& code, const std::string& message) {
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, code));
  return err;
}

// A non-negative 32-bit option, or dflt when absent or out of range.
inline uint32_t opt_u32(const Napi::Object& o, const char* key, uint32_t dflt) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) return dflt;
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d > 4294967295.0) return dflt;
  return uint32_t(d);
}

// Starts watching `fd` for readability on node's loop; `data` is handed to
// `cb` through handle->data. Throws a coded error on failure.
inline uv_poll_t* start_poll(Napi::Env env, int fd, void* data, uv_poll_cb cb) {
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || !loop) throw make_error(env, "FARAD_ERR_NATIVE", "no event loop");
  auto* poll = new uv_poll_t;
  int r = uv_poll_init(loop, poll, fd);
  if (r == 0) {
    poll->data = data;
    r = uv_poll_start(poll, UV_READABLE, cb);
  }
  if (r != 0) {
    delete poll;  // never initialized or never started: nothing for libuv to close
    throw make_error(env, uv_err_name(r), uv_strerror(r));
  }
  return poll;
}

// Stops a poll started by start_poll; the handle is freed in its close callback.
inline void stop_poll(uv_poll_t* poll) {
  uv_poll_stop(poll);
  poll->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(poll), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
}

}  // namespace farad::napi
