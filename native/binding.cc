// The only file that knows N-API and libuv. It wraps farad::Server in a JS
// class, watches the server's epoll descriptor with a uv_poll (so the JS
// thread never blocks in epoll_wait: libuv tells us when our epoll has
// events, and Server::on_readable drains them with a zero timeout), and turns
// each batch into one call into JS.
//
// Lifetime: the JS object owns the Server. While listening it holds a strong
// reference to itself so a server the program forgot about keeps serving,
// as node's net.Server does. destroy() closes every descriptor at once; the
// uv_poll_t is freed in its close callback; after destroy every method
// throws FARAD_ERR_DESTROYED. The shared ArrayBuffers are held by references
// for as long as the Server can touch them.
#include <napi.h>
#include <uv.h>

#include <memory>
#include <string>

#include "client/handle.h"
#include "napi_util.h"
#include "http1/request_parser.h"
#include "server/layout.h"
#include "server/server.h"

namespace {

using farad::Server;
using farad::napi::make_error;
using farad::napi::opt_u32;

template <typename T>
T* region(const Napi::Object& o, const char* key, uint32_t* count, size_t* bytes) {
  Napi::Value v = o.Get(key);
  if (!v.IsTypedArray()) throw Napi::TypeError::New(o.Env(), std::string("region ") + key + " must be a typed array");
  Napi::TypedArray ta = v.As<Napi::TypedArray>();
  if (ta.ElementSize() != sizeof(T)) throw Napi::TypeError::New(o.Env(), std::string("region ") + key + " has the wrong element size");
  uint8_t* base = static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  if (count) *count = uint32_t(ta.ElementLength());
  if (bytes) *bytes = ta.ByteLength();
  return reinterpret_cast<T*>(base);
}

class ServerHandle : public Napi::ObjectWrap<ServerHandle>, public farad::Dispatcher {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ServerHandle",
                       {
                           InstanceMethod<&ServerHandle::Listen>("listen"),
                           InstanceMethod<&ServerHandle::Flush>("flush"),
                           InstanceMethod<&ServerHandle::WriteExternal>("writeExternal"),
                           InstanceMethod<&ServerHandle::PeerAddress>("peerAddress"),
                           InstanceMethod<&ServerHandle::WriteChunk>("writeChunk"),
                           InstanceMethod<&ServerHandle::SendFile>("sendFile"),
                           InstanceMethod<&ServerHandle::PauseBody>("pauseBody"),
                           InstanceMethod<&ServerHandle::SendContinue>("sendContinue"),
                           InstanceMethod<&ServerHandle::SetBodySlab>("setBodySlab"),
                           InstanceMethod<&ServerHandle::StopAccepting>("stopAccepting"),
                           InstanceMethod<&ServerHandle::CloseIdle>("closeIdle"),
                           InstanceMethod<&ServerHandle::CloseAll>("closeAll"),
                           InstanceMethod<&ServerHandle::Destroy>("destroy"),
                       });
  }

  // new ServerHandle(options, regions, onBatch, onBatchEnd)
  explicit ServerHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ServerHandle>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 4 || !info[0].IsObject() || !info[1].IsObject() || !info[2].IsFunction() ||
        !info[3].IsFunction())
      throw Napi::TypeError::New(env, "ServerHandle(options, regions, onBatch, onBatchEnd)");
    Napi::Object o = info[0].As<Napi::Object>();
    Napi::Object r = info[1].As<Napi::Object>();

    farad::ServerOptions so;
    so.limits.max_request_line = opt_u32(o, "maxRequestLine", so.limits.max_request_line);
    so.limits.max_header_bytes = opt_u32(o, "maxHeaderBytes", so.limits.max_header_bytes);
    so.limits.max_headers = opt_u32(o, "maxHeaders", so.limits.max_headers);
    so.max_trailer_bytes = opt_u32(o, "maxTrailerBytes", so.max_trailer_bytes);
    so.max_pipelined = opt_u32(o, "maxPipelined", so.max_pipelined);
    so.max_connections = opt_u32(o, "maxConnections", so.max_connections);
    so.inline_body_max = opt_u32(o, "inlineBodyMax", so.inline_body_max);
    so.body_chunk_max = opt_u32(o, "bodyChunkMax", so.body_chunk_max);
    so.out_high_water = opt_u32(o, "outHighWater", so.out_high_water);
    so.in_high_water = opt_u32(o, "inHighWater", so.in_high_water);
    so.headers_timeout_ms = opt_u32(o, "headersTimeout", so.headers_timeout_ms);
    so.body_timeout_ms = opt_u32(o, "bodyTimeout", so.body_timeout_ms);
    so.keepalive_timeout_ms = opt_u32(o, "keepAliveTimeout", so.keepalive_timeout_ms);
    so.write_timeout_ms = opt_u32(o, "writeTimeout", so.write_timeout_ms);
    so.linger_ms = opt_u32(o, "lingerTimeout", so.linger_ms);
    so.max_batch = opt_u32(o, "maxBatch", so.max_batch);
    so.out_low_water = opt_u32(o, "outLowWater", so.out_low_water);
    Napi::Value budget = o.Get("maxBufferedBytes");
    if (budget.IsNumber() && budget.As<Napi::Number>().DoubleValue() >= 0)
      so.max_buffered_bytes = uint64_t(budget.As<Napi::Number>().DoubleValue());

    farad::SharedRegions sr;
    uint32_t n;
    size_t bytes;
    sr.control = region<int32_t>(r, "control", &n, nullptr);
    if (n < farad::layout::kControlSize) throw Napi::RangeError::New(env, "control region too small");
    sr.events = region<int32_t>(r, "events", &n, nullptr);
    sr.events_cap = n / farad::layout::kEventStride;
    sr.headers = region<int32_t>(r, "headers", &n, nullptr);
    sr.header_rows_cap = n / farad::layout::kHeaderStride;
    sr.in = region<uint8_t>(r, "input", nullptr, &bytes);
    sr.in_cap = uint32_t(bytes);
    sr.records = region<int32_t>(r, "records", &n, nullptr);
    sr.records_cap = n / farad::layout::kRecordStride;
    sr.out = region<uint8_t>(r, "output", nullptr, &bytes);
    sr.out_cap = uint32_t(bytes);
    sr.slab = region<uint8_t>(r, "bodySlab", nullptr, &bytes);
    sr.slab_cap = uint32_t(bytes);
    if (sr.slab_cap < farad::layout::kSlabMinRoom) throw Napi::RangeError::New(env, "body slab too small");
    slab_ = Napi::Persistent(r.Get("bodySlab").As<Napi::Object>());
    regions_ = Napi::Persistent(r);
    on_batch_ = Napi::Persistent(info[2].As<Napi::Function>());
    on_batch_end_ = Napi::Persistent(info[3].As<Napi::Function>());
    async_context_ = std::make_unique<Napi::AsyncContext>(env, "farad:batch");
    try {
      server_ = std::make_unique<Server>(so, sr, this);
    } catch (const std::exception& e) {
      throw make_error(env, "FARAD_ERR_NATIVE", e.what());
    }
    env_ = env;
  }

  ~ServerHandle() override { Stop(); }

  void on_batch() override { Call(on_batch_); }
  void on_batch_end() override { Call(on_batch_end_); }

 private:
  void Call(Napi::FunctionReference& fn) {
    Napi::HandleScope scope(env_);
    try {
      fn.MakeCallback(Value(), {}, *async_context_);
    } catch (const Napi::Error& e) {
      // The JS side catches handler errors itself; reaching here is a bug in
      // farad. Surface it as node would surface any uncaught exception.
      napi_fatal_exception(env_, e.Value());
    }
  }

  static constexpr int kTurnsPerPoll = 8;
  static constexpr int kEventsPerPoll = 256;

  static void OnPoll(uv_poll_t* handle, int status, int events) {
    auto* self = static_cast<ServerHandle*>(handle->data);
    if (!self || !self->server_) return;
    // status < 0 would mean the epoll descriptor itself failed; drain anyway
    // so connections still see their errors.
    Napi::HandleScope scope(self->env_);
    self->busy_ = true;
    // While turns find events, the next one follows at once instead of
    // through libuv, whose epoll_wait would poll our descriptor (and so our
    // ready list) again first: 2% fewer CPU-seconds per request under
    // keep-alive load (docs/boundary.md). Bounded in turns and events, so
    // libuv's other handles and timers still run about as often as after
    // one full batch.
    int handled = 0;
    for (int turn = 0; turn < kTurnsPerPoll && handled < kEventsPerPoll && !self->destroy_pending_; ++turn) {
      int n = self->server_->on_readable();
      if (n <= 0) break;
      handled += n;
    }
    self->busy_ = false;
    if (self->destroy_pending_) self->Stop();
  }

  Server& server(Napi::Env env) {
    if (!server_) throw make_error(env, "FARAD_ERR_DESTROYED", "the server handle was destroyed");
    return *server_;
  }

  // listen(ip, port, backlog, reusePort, ipv6Only) -> bound port
  Napi::Value Listen(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Server& s = server(env);
    std::string ip = info[0].As<Napi::String>().Utf8Value();
    int port = info[1].As<Napi::Number>().Int32Value();
    int backlog = info[2].As<Napi::Number>().Int32Value();
    bool reuse_port = info[3].ToBoolean();
    bool ipv6_only = info[4].ToBoolean();
    int bound = 0;
    int r = s.listen(ip.c_str(), port, backlog, reuse_port, ipv6_only, &bound);
    if (r != 0)
      throw make_error(env, uv_err_name(r),
                       std::string(uv_strerror(r)) + " (listen " + ip + ":" + std::to_string(port) + ")");
    if (!poll_) {
      poll_ = farad::napi::start_poll(env, s.reactor_fd(), this, OnPoll);
      Ref();  // keep serving even if the program drops its reference
    }
    return Napi::Number::New(env, bound);
  }

  Napi::Value Flush(const Napi::CallbackInfo& info) {
    server(info.Env()).flush();
    return info.Env().Undefined();
  }

  // writeExternal(slot, gen, seq, bytes, flags) -> false if the connection is gone
  Napi::Value WriteExternal(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Server& s = server(env);
    if (!info[3].IsTypedArray()) throw Napi::TypeError::New(env, "bytes must be a Uint8Array");
    Napi::Uint8Array bytes = info[3].As<Napi::Uint8Array>();
    bool ok = s.write_external(info[0].As<Napi::Number>().Uint32Value(),
                               info[1].As<Napi::Number>().Uint32Value(),
                               info[2].As<Napi::Number>().Uint32Value(), bytes.Data(),
                               bytes.ByteLength(), info[4].As<Napi::Number>().Int32Value());
    return Napi::Boolean::New(env, ok);
  }

  // peerAddress(slot, gen) -> [address, port] or null when the connection is gone
  Napi::Value PeerAddress(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    char ip[64];
    int port = 0;
    if (!server(env).peer_address(info[0].As<Napi::Number>().Uint32Value(),
                                  info[1].As<Napi::Number>().Uint32Value(), ip, sizeof ip, &port))
      return env.Null();
    Napi::Array out = Napi::Array::New(env, 2);
    out.Set(0u, Napi::String::New(env, ip));
    out.Set(1u, Napi::Number::New(env, port));
    return out;
  }

  // writeChunk(slot, gen, seq, bytes, flags, chunked) -> unsent bytes, or -1 if gone
  Napi::Value WriteChunk(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Server& s = server(env);
    if (!info[3].IsTypedArray()) throw Napi::TypeError::New(env, "bytes must be a Uint8Array");
    Napi::Uint8Array bytes = info[3].As<Napi::Uint8Array>();
    int64_t r = s.write_chunk(info[0].As<Napi::Number>().Uint32Value(),
                              info[1].As<Napi::Number>().Uint32Value(),
                              info[2].As<Napi::Number>().Uint32Value(), bytes.Data(),
                              bytes.ByteLength(), info[4].As<Napi::Number>().Int32Value(),
                              info[5].ToBoolean());
    return Napi::Number::New(env, double(r));
  }

  // sendFile(slot, gen, seq, fd, offset, length, flags) -> false if gone
  Napi::Value SendFile(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    bool ok = server(env).send_file(
        info[0].As<Napi::Number>().Uint32Value(), info[1].As<Napi::Number>().Uint32Value(),
        info[2].As<Napi::Number>().Uint32Value(), info[3].As<Napi::Number>().Int32Value(),
        uint64_t(info[4].As<Napi::Number>().DoubleValue()),
        uint64_t(info[5].As<Napi::Number>().DoubleValue()), info[6].As<Napi::Number>().Int32Value());
    return Napi::Boolean::New(env, ok);
  }

  // pauseBody(slot, gen, seq, pause) -> false if gone
  Napi::Value PauseBody(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    bool ok = server(env).pause_body(info[0].As<Napi::Number>().Uint32Value(),
                                     info[1].As<Napi::Number>().Uint32Value(),
                                     info[2].As<Napi::Number>().Uint32Value(), info[3].ToBoolean());
    return Napi::Boolean::New(env, ok);
  }

  // sendContinue(slot, gen, seq) -> false if gone
  Napi::Value SendContinue(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    bool ok = server(env).send_continue(info[0].As<Napi::Number>().Uint32Value(),
                                        info[1].As<Napi::Number>().Uint32Value(),
                                        info[2].As<Napi::Number>().Uint32Value());
    return Napi::Boolean::New(env, ok);
  }

  // setBodySlab(bytes): the reactor appends body bytes to `bytes` from now
  // on. The handle holds a reference to it while it may write into it; the
  // old slab belongs to JS (and the views made of it) from here.
  Napi::Value SetBodySlab(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Server& s = server(env);
    if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
      throw Napi::TypeError::New(env, "setBodySlab(bytes: Uint8Array)");
    Napi::Uint8Array bytes = info[0].As<Napi::Uint8Array>();
    if (bytes.ByteLength() < farad::layout::kSlabMinRoom || bytes.ByteLength() > INT32_MAX)
      throw Napi::RangeError::New(env, "body slab size out of range");
    slab_ = Napi::Persistent(bytes.As<Napi::Object>());
    s.set_body_slab(bytes.Data(), uint32_t(bytes.ByteLength()));
    return env.Undefined();
  }

  Napi::Value StopAccepting(const Napi::CallbackInfo& info) {
    server(info.Env()).stop_accepting();
    return info.Env().Undefined();
  }
  Napi::Value CloseIdle(const Napi::CallbackInfo& info) {
    server(info.Env()).close_idle();
    return info.Env().Undefined();
  }
  Napi::Value CloseAll(const Napi::CallbackInfo& info) {
    server(info.Env()).close_all();
    return info.Env().Undefined();
  }
  Napi::Value Destroy(const Napi::CallbackInfo& info) {
    // Inside a batch the Server is still on the stack: finish the turn first.
    if (busy_) {
      destroy_pending_ = true;
      if (server_) server_->close_all();
    } else {
      Stop();
    }
    return info.Env().Undefined();
  }

  void Stop() {
    if (poll_) {
      farad::napi::stop_poll(poll_);
      poll_ = nullptr;
      Unref();
    }
    server_.reset();
    slab_.Reset();
  }

  napi_env env_ = nullptr;
  bool busy_ = false;
  bool destroy_pending_ = false;
  std::unique_ptr<Server> server_;
  uv_poll_t* poll_ = nullptr;
  Napi::ObjectReference regions_;
  Napi::ObjectReference slab_;  // the body slab the Server writes into
  Napi::FunctionReference on_batch_;
  Napi::FunctionReference on_batch_end_;
  std::unique_ptr<Napi::AsyncContext> async_context_;
};

// parseHead(bytes) -> head length of a complete valid head, or -status.
// For the parser micro-benchmark and tests; the server does not use it.
Napi::Value ParseHead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray()) throw Napi::TypeError::New(env, "parseHead(bytes: Uint8Array)");
  Napi::Uint8Array buf = info[0].As<Napi::Uint8Array>();
  static thread_local farad::http1::HeaderField fields[256];
  farad::http1::Limits limits;
  limits.max_headers = 256;
  farad::http1::HeadScanner scanner;
  scanner.reset(limits);
  size_t consumed = 0;
  auto st = scanner.feed(buf.Data(), buf.ByteLength(), &consumed);
  if (st == farad::http1::HeadScanner::State::kError)
    return Napi::Number::New(env, -double(scanner.error().status));
  if (st != farad::http1::HeadScanner::State::kComplete) return Napi::Number::New(env, 0);
  farad::http1::RequestHead head;
  farad::http1::Error e = farad::http1::parse_head(buf.Data() + scanner.skipped(), scanner.head_length(),
                                                   limits, &head, fields);
  if (e) return Napi::Number::New(env, -double(e.status));
  return Napi::Number::New(env, double(scanner.head_length()));
}

class Addon : public Napi::Addon<Addon> {
 public:
  Addon(Napi::Env env, Napi::Object exports) {
    DefineAddon(exports, {
                             InstanceValue("ServerHandle", ServerHandle::Define(env)),
                             InstanceValue("ClientHandle", farad::define_client_handle(env)),
                             InstanceValue("parseHead", Napi::Function::New(env, ParseHead)),
                             InstanceValue("layoutVersion", Napi::Number::New(env, 1)),
                         });
  }
};

}  // namespace

NODE_API_ADDON(Addon)
