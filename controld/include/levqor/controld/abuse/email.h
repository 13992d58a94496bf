// SPDX-License-Identifier: Apache-2.0
// Email normalization before deny-list matching and hashing, so that the
// spellings of one mailbox count as one signup. Pure functions, thread-safe.
//
// The rules (docs/abuse.md, "Inputs and privacy"), in order:
//  1. At most kMaxEmailInput bytes as given; surrounding ASCII whitespace
//     trimmed; ASCII letters lowercased (other bytes kept as they are).
//  2. Exactly one '@'; a local part of 1..64 bytes and a domain of 1..253
//     bytes; no whitespace or control characters; the domain is dot-separated
//     labels of [a-z0-9-] (internationalized domains in their xn-- form), one
//     trailing dot dropped.
//  3. Provider rules, by the domain after step 2:
//     - gmail.com, googlemail.com: the domain becomes gmail.com, the dots of
//       the local part are dropped and a "+tag" is cut;
//     - "+tag" cut (subaddressing): outlook.com, hotmail.com, live.com,
//       msn.com, icloud.com, me.com, mac.com, fastmail.com, fastmail.fm,
//       proton.me, protonmail.com, protonmail.ch, pm.me;
//     - "-keyword" cut: yahoo.com (disposable addresses "basename-keyword";
//       Yahoo IDs cannot contain '-').
//     Other domains keep their local part as is: a '+' or '.' may be
//     significant there.
//  4. A local part left empty by step 3 ("+x@gmail.com") is invalid.
// Every refusal is InvalidInput("email", ...) whose message never contains
// the address.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace levqor::controld::abuse {

inline constexpr std::size_t kMaxEmailInput = 1024;
inline constexpr std::size_t kMaxLocalPart = 64;
inline constexpr std::size_t kMaxDomain = 253;

std::string normalize_email(std::string_view email);

}  // namespace levqor::controld::abuse
