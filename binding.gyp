{
  "targets": [
    {
      "target_name": "farad",
      "sources": [
        "native/binding.cc",
        "native/server/server.cc",
        "native/server/input.cc",
        "native/server/output.cc",
        "native/reactor/reactor.cc",
        "native/http1/response.cc",
        "native/http1/request_parser.cc",
        "native/http1/chunked.cc",
        "native/http1/response_parser.cc",
        "native/client/client.cc",
        "native/client/handle.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native"
      ],
      "defines": [
        "NAPI_VERSION=9",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "NAPI_CPP_EXCEPTIONS"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-O3", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17"
      }
    }
  ]
}
