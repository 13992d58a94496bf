// SPDX-License-Identifier: Apache-2.0
// Email normalization before deny-lists and hashing (email.h lists the rules).
#include <gtest/gtest.h>

#include "levqor/controld/abuse/email.h"
#include "levqor/controld/abuse/types.h"

namespace levqor::controld::abuse {
namespace {

TEST(AbuseEmail, SpellingsOfOneMailboxNormalizeToOne) {
    const std::pair<const char*, const char*> cases[] = {
        {"ab@example.com", "ab@example.com"},
        {"  AB@Example.COM \t\r\n", "ab@example.com"},
        {"a.b+c@example.com", "a.b+c@example.com"},  // other domains: '.' and '+' kept
        {"a.b+c@gmail.com", "ab@gmail.com"},
        {"A.B+news+x@GoogleMail.com", "ab@gmail.com"},
        {"a..b.@gmail.com", "ab@gmail.com"},
        {"ab@gmail.com.", "ab@gmail.com"},
        {"john+shop@outlook.com", "john@outlook.com"},
        {"john+shop@hotmail.com", "john@hotmail.com"},
        {"john+shop@live.com", "john@live.com"},
        {"john+shop@msn.com", "john@msn.com"},
        {"j.doe+a@icloud.com", "j.doe@icloud.com"},
        {"j+a@me.com", "j@me.com"},
        {"j+a@mac.com", "j@mac.com"},
        {"j+a@fastmail.com", "j@fastmail.com"},
        {"j+a@fastmail.fm", "j@fastmail.fm"},
        {"j+a@proton.me", "j@proton.me"},
        {"j+a@protonmail.com", "j@protonmail.com"},
        {"j+a@protonmail.ch", "j@protonmail.ch"},
        {"j+a@pm.me", "j@pm.me"},
        {"base-shopping@yahoo.com", "base@yahoo.com"},
        {"base+x@yahoo.com", "base+x@yahoo.com"},
        {"a-b@outlook.com", "a-b@outlook.com"},
        {"ab@xn--bcher-kva.example", "ab@xn--bcher-kva.example"},
        {"caf\xc3\xa9@example.com", "caf\xc3\xa9@example.com"},  // non-ASCII local part kept as is
        {"ab@sub.gmail.com", "ab@sub.gmail.com"},                // only the exact domains
    };
    for (const auto& [in, out] : cases) EXPECT_EQ(normalize_email(in), out) << in;
}

TEST(AbuseEmail, InvalidAddressesAreInvalidInputNamingEmailWithoutTheAddress) {
    const std::pair<std::string, const char*> cases[] = {
        {"", "email is invalid: empty"},
        {"   ", "email is invalid: empty"},
        {"secret.example.com", "email is invalid: no '@'"},
        {"secret@a@example.com", "email is invalid: more than one '@'"},
        {"@example.com", "email is invalid: the local part is empty"},
        {"secret@", "email is invalid: the domain is empty"},
        {"secret@.", "email is invalid: the domain is empty"},
        {"se cret@example.com", "email is invalid: it contains whitespace or a control character"},
        {std::string("secret\0@example.com", 19), "email is invalid: it contains whitespace or a control character"},
        {"secret@exa_mple.com",
         "email is invalid: the domain may contain only letters, digits, '-' and '.' (IDN in its xn-- form)"},
        {"secret@b\xc3\xbc"
         "cher.example",
         "email is invalid: the domain may contain only letters, digits, '-' and '.' (IDN in its xn-- form)"},
        {"secret@example..com", "email is invalid: the domain has an empty label"},
        {"secret@-example.com", "email is invalid: a domain label starts or ends with '-'"},
        {"secret@example-.com", "email is invalid: a domain label starts or ends with '-'"},
        {std::string(65, 'a') + "@example.com", "email is invalid: the local part is longer than 64 bytes"},
        {"secret@" + std::string(64, 'a') + ".com", "email is invalid: a domain label is longer than 63 bytes"},
        {"secret@" + std::string(250, 'a') + ".com", "email is invalid: the domain is longer than 253 bytes"},
        {std::string(1025, ' '), "email is invalid: longer than 1024 bytes"},
        {"+secret@gmail.com", "email is invalid: the local part is empty once normalized"},
        {"...@gmail.com", "email is invalid: the local part is empty once normalized"},
        {"-secret@yahoo.com", "email is invalid: the local part is empty once normalized"},
    };
    for (const auto& [in, message] : cases) {
        try {
            normalize_email(in);
            ADD_FAILURE() << "accepted " << in;
        } catch (const InvalidInput& e) {
            EXPECT_EQ(e.field(), "email");
            EXPECT_EQ(std::string(e.what()), message) << in;
            EXPECT_EQ(std::string(e.what()).find("secret"), std::string::npos);
        }
    }
}

TEST(AbuseEmail, NormalizingTwiceChangesNothing) {
    for (const char* in : {"A.B+c@GMAIL.com", "x+y@outlook.com", "q-r@yahoo.com", " Z@Example.org "}) {
        const auto once = normalize_email(in);
        EXPECT_EQ(normalize_email(once), once) << in;
    }
}

}  // namespace
}  // namespace levqor::controld::abuse
