// The N-API face of ClientCore (client.h): a JS class whose instance owns
// one core, watches its epoll descriptor with a uv_poll (the JS thread never
// blocks in epoll_wait) and turns each reactor turn into one call into JS:
// onBatch(events: Int32Array, count, slab: Buffer, codes: string[] | null).
// Reads land in the slab, a Buffer JS owns, so body bytes are not copied
// again. `events` is one array reused for every batch (its first `count`
// words are this batch's): JS reads it during the call and keeps nothing.
//
// The uv_poll is unreferenced unless JS says requests are in flight
// (ref(true)), so idle pooled connections never keep a process alive, as
// with node's agents. destroy() closes every connection at once.
#include <napi.h>
#include <uv.h>

#include <cstring>
#include <memory>
#include <string>

#include "client/client.h"
#include "client/handle.h"
#include "napi_util.h"

namespace farad {

namespace {

using napi::make_error;
using napi::opt_u32;

// Reads land in slabs of this size: room for a turn's worth of bytes
// (client.cc caps a turn at 256 KiB) and then some, so small messages
// share one allocation for many turns.
constexpr size_t kSlabSize = 512 << 10;

class ClientHandle : public Napi::ObjectWrap<ClientHandle>, public ClientSink {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ClientHandle",
                       {
                           InstanceMethod<&ClientHandle::Connect>("connect"),
                           InstanceMethod<&ClientHandle::Write>("write"),
                           InstanceMethod<&ClientHandle::Pause>("pause"),
                           InstanceMethod<&ClientHandle::Close>("close"),
                           InstanceMethod<&ClientHandle::LocalPort>("localPort"),
                           InstanceMethod<&ClientHandle::SetRef>("ref"),
                           InstanceMethod<&ClientHandle::OpenConnections>("openConnections"),
                           InstanceMethod<&ClientHandle::Destroy>("destroy"),
                       });
  }

  // new ClientHandle(options, onBatch)
  explicit ClientHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ClientHandle>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction())
      throw Napi::TypeError::New(env, "ClientHandle(options, onBatch)");
    Napi::Object o = info[0].As<Napi::Object>();
    ClientOptions co;
    co.limits.max_header_bytes = opt_u32(o, "maxHeaderBytes", co.limits.max_header_bytes);
    co.limits.max_headers = opt_u32(o, "maxHeaders", co.limits.max_headers);
    co.max_trailer_bytes = opt_u32(o, "maxTrailerBytes", co.max_trailer_bytes);
    co.read_size = opt_u32(o, "readSize", co.read_size);
    co.reads_per_turn = opt_u32(o, "readsPerTurn", co.reads_per_turn);
    on_batch_ = Napi::Persistent(info[1].As<Napi::Function>());
    async_context_ = std::make_unique<Napi::AsyncContext>(env, "farad:client");
    try {
      core_ = std::make_unique<ClientCore>(co, this);
    } catch (const std::exception& e) {
      throw make_error(env, "FARAD_ERR_NATIVE", e.what());
    }
    env_ = env;
    poll_ = napi::start_poll(env, core_->reactor_fd(), this, OnPoll);
    uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  }

  ~ClientHandle() override { Stop(); }

  void on_batch(const int32_t* events, size_t n_events, const char* const* codes, size_t n_codes) override {
    Napi::Env env(env_);
    Napi::HandleScope scope(env);
    if (n_events > ev_capacity_ || ev_.IsEmpty()) {
      // Grown by doubling; most batches fit the first one.
      size_t cap = ev_capacity_ ? ev_capacity_ : 1024;
      while (cap < n_events) cap *= 2;
      Napi::Int32Array a = Napi::Int32Array::New(env, cap);
      ev_ = Napi::Persistent(a);
      ev_data_ = a.Data();
      ev_capacity_ = cap;
    }
    std::memcpy(ev_data_, events, n_events * sizeof(int32_t));
    Napi::Value ev = ev_.Value();
    Napi::Value count = Napi::Number::New(env, double(n_events));
    Napi::Value slab = slab_.IsEmpty() ? env.Null() : slab_.Value();
    Napi::Value names = env.Null();
    if (n_codes) {
      Napi::Array a = Napi::Array::New(env, n_codes);
      for (size_t i = 0; i < n_codes; ++i) a.Set(uint32_t(i), Napi::String::New(env, codes[i]));
      names = a;
    }
    try {
      on_batch_.MakeCallback(Value(), {ev, count, slab, names}, *async_context_);
    } catch (const Napi::Error& e) {
      // The JS side catches its own errors; reaching here is a bug in farad.
      napi_fatal_exception(env_, e.Value());
    }
  }

  // A new slab: a Buffer (JS-owned memory; node leaves it uninitialized)
  // that reads fill in place. The old one lives on while JS holds views.
  uint8_t* new_slab(size_t* size) override {
    Napi::Env env(env_);
    Napi::Buffer<uint8_t> b = Napi::Buffer<uint8_t>::New(env, kSlabSize);
    slab_ = Napi::Persistent(b);
    *size = b.Length();
    return b.Data();
  }

 private:
  static void OnPoll(uv_poll_t* handle, int status, int events) {
    auto* self = static_cast<ClientHandle*>(handle->data);
    if (!self || !self->core_) return;
    Napi::HandleScope scope(self->env_);
    self->busy_ = true;
    self->core_->on_readable();
    self->busy_ = false;
    if (self->destroy_pending_) self->Stop();
  }

  ClientCore& core(Napi::Env env) {
    if (!core_) throw make_error(env, "FARAD_ERR_CLIENT_DESTROYED", "the client was closed");
    return *core_;
  }

  // connect(ip, port, out: Uint32Array(2)) -> 1 connecting, 0 connected, -errno
  Napi::Value Connect(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ClientCore& c = core(env);
    std::string ip = info[0].As<Napi::String>().Utf8Value();
    int port = info[1].As<Napi::Number>().Int32Value();
    if (!info[2].IsTypedArray()) throw Napi::TypeError::New(env, "connect(ip, port, out: Uint32Array)");
    Napi::Uint32Array out = info[2].As<Napi::Uint32Array>();
    if (out.ElementLength() < 2) throw Napi::RangeError::New(env, "out needs two elements");
    uint32_t slot = 0, gen = 0;
    int r = c.connect(ip.c_str(), port, &slot, &gen);
    out[0] = slot;
    out[1] = gen;
    return Napi::Number::New(env, r);
  }

  // write(slot, gen, bytes, method) -> unsent bytes or -errno
  Napi::Value Write(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ClientCore& c = core(env);
    if (!info[2].IsTypedArray()) throw Napi::TypeError::New(env, "bytes must be a Uint8Array");
    Napi::Uint8Array bytes = info[2].As<Napi::Uint8Array>();
    int64_t r = c.write(info[0].As<Napi::Number>().Uint32Value(), info[1].As<Napi::Number>().Uint32Value(),
                        bytes.Data(), bytes.ByteLength(), info[3].As<Napi::Number>().Int32Value());
    return Napi::Number::New(env, double(r));
  }

  Napi::Value Pause(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    bool ok = core(env).pause(info[0].As<Napi::Number>().Uint32Value(),
                              info[1].As<Napi::Number>().Uint32Value(), info[2].ToBoolean());
    return Napi::Boolean::New(env, ok);
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!core_) return Napi::Boolean::New(env, false);
    bool ok = core_->close(info[0].As<Napi::Number>().Uint32Value(), info[1].As<Napi::Number>().Uint32Value());
    return Napi::Boolean::New(env, ok);
  }

  Napi::Value LocalPort(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Napi::Number::New(env, core(env).local_port(info[0].As<Napi::Number>().Uint32Value(),
                                                        info[1].As<Napi::Number>().Uint32Value()));
  }

  Napi::Value OpenConnections(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), core_ ? double(core_->open_connections()) : 0);
  }

  // ref(true) while requests are in flight: keep the process alive for them.
  Napi::Value SetRef(const Napi::CallbackInfo& info) {
    if (poll_) {
      if (info[0].ToBoolean())
        uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
      else
        uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
    }
    return info.Env().Undefined();
  }

  Napi::Value Destroy(const Napi::CallbackInfo& info) {
    if (busy_)
      destroy_pending_ = true;  // the core is on the stack: finish the turn first
    else
      Stop();
    return info.Env().Undefined();
  }

  void Stop() {
    if (poll_) {
      napi::stop_poll(poll_);
      poll_ = nullptr;
    }
    core_.reset();
    slab_.Reset();
    ev_.Reset();
  }

  napi_env env_ = nullptr;
  bool busy_ = false;
  bool destroy_pending_ = false;
  std::unique_ptr<ClientCore> core_;
  uv_poll_t* poll_ = nullptr;
  Napi::FunctionReference on_batch_;
  Napi::Reference<Napi::Buffer<uint8_t>> slab_;
  Napi::Reference<Napi::Int32Array> ev_;
  int32_t* ev_data_ = nullptr;
  size_t ev_capacity_ = 0;
  std::unique_ptr<Napi::AsyncContext> async_context_;
};

}  // namespace

Napi::Function define_client_handle(Napi::Env env) { return ClientHandle::Define(env); }

}  // namespace farad
