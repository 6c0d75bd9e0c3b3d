// The client's N-API class, registered by binding.cc's addon.
#pragma once
#include <napi.h>

namespace farad {
Napi::Function define_client_handle(Napi::Env env);
}  // namespace farad
