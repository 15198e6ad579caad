package injection

import (
	"regexp"
	"strings"
)

// Categories group signals for callers that act on the kind of attack
// rather than on one phrase.
const (
	CategoryOverride     = "instruction_override"
	CategoryRole         = "role_hijack"
	CategoryPromptLeak   = "prompt_exfiltration"
	CategoryDelimiter    = "delimiter_injection"
	CategoryExfiltration = "data_exfiltration"
	CategorySecrecy      = "secrecy"
	CategoryAuthority    = "authority_claim"
	CategoryIndirect     = "addressed_to_model"
	CategoryObfuscation  = "obfuscation"
)

// A rule is one row of the signal table: a named signal, its weight (the
// probability-like strength it adds to the score on its own) and the
// word-sequence patterns that raise it (syntax in the pattern type's
// comment). Several rows may share a name with different weights; a
// signal counts once, at the weight of its strongest match.
type rule struct {
	name     string
	category string
	weight   float64
	patterns []string
}

// Word lists shared by several patterns. They are joined into pattern
// elements with '|'.
var (
	vIgnore = w("ignore ignoring disregard disregarding forget forgetting skip overlook neglect " +
		"override overriding overwrite bypass discard abandon ditch dismiss erase clear drop " +
		"supersede supersedes overrides scrap")
	vBefore = w("previous prior above earlier preceding foregoing original initial all your " +
		"safety hidden")
	vRules = w("instructions instruction directions directives guidelines prompts prompt commands " +
		"programming guardrails orders guidance rules constraints restrictions filters " +
		"policies policy safeguards")
	vNotMine = w("my our i me i'm we <eslint <lint <linter <css <firewall <gitignore <style <styles " +
		"<compiler <warning <warnings <test <tests <typescript <mypy <pylint <flake8 <cookie <cookies " +
		"<browser <spam <regex <parser <config <configuration")
	vReveal = w("reveal print show repeat output display tell give share disclose leak dump " +
		"echo recite spell list copy paste translate write type expose return provide state " +
		"quote read summarize summarise paraphrase describe explain")
	vShow = w("reveal print show repeat output display dump leak disclose recite echo expose spell " +
		"paste copy")
	vPromptNoun = w("prompt prompts instructions instruction guidelines directives preprompt " +
		"rules programming configuration preamble")
	vSecretAdj = w("system hidden secret initial original confidential internal underlying " +
		"private developer pre")
	vModel = w("ai assistant llm model chatbot bot agent gpt chatgpt claude gemini copilot " +
		"bard llama mistral")
	vLimits = w("restrictions restriction limitations filters filter filtering censorship " +
		"policy guidelines rules policies boundaries ethics morals morality safeguards guardrails " +
		"constraints principles programming")
	vSend = w("send post upload forward transmit exfiltrate leak email mail submit relay append " +
		"attach include encode embed pass copy report deliver write put add beam sync")
	vConvo = w("conversation conversations chat chats transcript history messages memory memories " +
		"context everything pii personal user's users")
	vSecret = w("secret secrets password passwords credentials credential keys key tokens token " +
		"cookies cookie ssn")
)

// w turns a space-separated word list into a pattern element.
func w(s string) string { return strings.Join(strings.Fields(s), "|") }

// rules is the phrase table. Weights were set so that one unmistakable
// attack phrase ("ignore all previous instructions", "reveal your system
// prompt") clears the default threshold alone, while phrases that also
// occur in ordinary requests ("from now on you", "don't tell anyone",
// "System:" at a line start) only count together with other evidence.
var rules = []rule{
	// Instruction override.
	{"ignore_previous", CategoryOverride, 0.9, []string{
		vIgnore + " ~3 " + vBefore + "|any ~2 " + vRules + " !if|unless|when|once unless " + vNotMine,
		vIgnore + " ~1 everything|anything|all ~4 above|previously|earlier|prior|told|said|written|given|received|heard unless " + vNotMine + " you've",
		vIgnore + " ~1 everything|anything ~1 before ~0 this|that|now unless " + vNotMine,
		"<not|don't|dont|stop|never|longer|cease ~1 follow|following|obey|obeying|adhere|comply|listen|abide ~3 " + vBefore + " ~2 " + vRules + " unless " + vNotMine,
		"pay ~0 no ~0 attention ~1 to ~3 " + vBefore + " ~2 " + vRules,
		"forget ~2 you|you're ~1 are|were|an|a ~2 ai|assistant|model|chatbot|language",
	}},
	{"ignore_previous", CategoryOverride, 0.85, []string{
		"takes|take|have|has ~0 precedence|priority ~1 over ~3 " + vBefore + "|other|any ~2 " + vRules + "|ones|everything",
	}},
	{"ignore_above", CategoryOverride, 0.6, []string{
		"<" + vIgnore + " ~1 <the|all|everything ~0 above ~0 and|then|instead unless " + vNotMine,
	}},
	{"ignore_user_request", CategoryOverride, 0.8, []string{
		"ignore|disregard|forget|skip|override ~1 the ~0 user's|users|user ~2 request|requests|question|instructions|message|task|input|query !if|unless|when|once|is|are",
	}},
	{"ignore_safety", CategoryOverride, 0.7, []string{
		"ignore|disregard|forget|bypass|override|skip|abandon|drop ~0 ?all|the|any safety|ethics|ethical|morals|moral|guardrails|filters|censorship|alignment !if|unless|when|once|check|checks|test|tests|warning|warnings|glasses|data|sheet",
	}},
	{"ignore_safety", CategoryOverride, 0.85, []string{
		"ignore|disregard|forget|bypass|override|skip|abandon|drop ~1 your ~1 safety|ethics|ethical|morals|moral|guardrails|filters|censorship|alignment|content",
	}},
	{"rules_void", CategoryOverride, 0.7, []string{
		"<previous|prior|all|original|your|above|earlier|old|existing|safety ~2 " + vRules + " ~3 longer ~1 apply|valid|matter|relevant|exist|binding",
		vRules + " ~3 above|before|previous|earlier|given|here ~2 longer ~0 apply|valid|matter|relevant|exist|binding",
		"<previous|prior|all|original|your|above|earlier|old|safety ~2 " + vRules + " ~2 void|null|cancelled|canceled|revoked|obsolete|overridden|superseded|lifted|suspended|disabled|removed|waived|deactivated|invalid",
	}},
	{"new_instructions", CategoryOverride, 0.6, []string{
		"new|updated|revised|real|actual|true|override|secret|hidden|additional|replacement ~1 instructions:|instruction:|task:|directive:|directives:|orders:|rules:|objective:|goal:|mission:|prompt:|guidelines:",
		"<your ~0 <new|real|actual|true|updated|only ~0 instructions|task|objective|goal|mission|role|purpose|directive|directives|orders|rules ~0 is|are|will|now",
		"here ~1 are|is ~1 your ~0 new|updated|real ~0 instructions|task|orders|rules",
	}},
	{"begin_new_instructions", CategoryOverride, 0.7, []string{
		"begin|beginning|start|starting ~1 of ~1 new|the|real|actual|true ~1 system|admin|developer ~1 instructions|prompt|message|task|directive",
		"begin|beginning|start|starting ~0 new ~0 instructions|task|directives|session",
	}},
	{"from_now_on", CategoryOverride, 0.35, []string{
		"from ~0 now|this ~1 on|onward|onwards|forward ~1 you|your|you're|u|respond|answer|act|reply|ignore|behave|always|only|never",
	}},
	{"regardless_of_rules", CategoryOverride, 0.4, []string{
		"regardless|irrespective ~0 of ~2 policy|policies|rules|instructions|guidelines|restrictions|safety|ethics|consequences|legality",
	}},
	{"unlock_anything", CategoryRole, 0.45, []string{
		"<you ~0 <can|may ~0 <now ~3 <say|do|answer|write|generate|discuss ~1 anything|everything|whatever",
	}},

	// Role hijack and jailbreak personas.
	{"do_anything_now", CategoryRole, 0.9, []string{
		"<do ~0 anything ~0 now",
		"dan ~0 mode",
		"stay|remain ~1 in ~0 character ~3 dan|jailbreak|unrestricted|unfiltered|evil",
	}},
	{"persona_dan", CategoryRole, 0.6, []string{
		"<you ~0 <are|re ~0 <now ~0 dan|stan|dude|aim",
		"<you're ~0 <now ~0 dan|stan|dude|aim",
		"act|behave|respond|answer|pretend ~2 as ~1 dan",
	}},
	{"persona_unrestricted", CategoryRole, 0.85, []string{
		"<you ~0 <are|re ~0 <now ~1 jailbroken|unchained|unfiltered|uncensored|unrestricted|unbound|amoral",
		"<you're ~0 <now ~1 jailbroken|unchained|unfiltered|uncensored|unrestricted|unbound|amoral",
		"act|behave|respond|answer|pretend|roleplay|become|simulate ~4 jailbroken|unrestricted|unfiltered|uncensored|unaligned|amoral|unchained ~2 " + vModel + "|version|persona|character",
	}},
	{"no_restrictions", CategoryRole, 0.8, []string{
		"pretend|imagine|act|behave|roleplay|assume|suppose|simulate|respond|answer|become ~3 you|yourself|" + vModel + "|version ~4 no|without|free|freed|unrestricted|unfiltered|uncensored|unbound|unshackled|zero|lacks|ignores ~3 " + vLimits,
		"<you ~2 <are|have|been|were ~1 freed|liberated|released|unshackled|unchained|free|exempt ~1 from ~3 " + vLimits + "|confines|shackles|openai|anthropic|limits|policy|policies",
		"<been|is|are|was|were ~1 freed|liberated|unshackled|unchained ~1 from ~3 " + vLimits + "|confines|shackles|limits",
		"<you ~1 <are|re ~0 <no ~0 longer ~1 bound|restricted|limited|constrained|required|obligated|an|a|chatgpt|claude|gpt|gemini",
		"<you're ~0 <no ~0 longer ~1 bound|restricted|limited|constrained|required|obligated|an|a|chatgpt|claude|gpt|gemini",
	}},
	{"no_restrictions", CategoryRole, 0.6, []string{
		"answer|answers|respond|responds|reply|replies|speak|talk|write|act|behave|operate ~2 without|free ~2 any ~0 restrictions|filters|censorship|limitations|guardrails|rules|ethics|morals|safeguards|limits|boundaries",
		"answer|answers|respond|responds|reply|replies|speak|talk|write|act|behave|operate ~2 without|free ~2 restrictions|filters|censorship|limitations|guardrails|ethics|morals|safeguards|boundaries",
		"answer|answers|respond|responds|reply|replies|speak|talk|write|act|behave|operate ~2 without|free ~2 any|moral|ethical|content ~1 restrictions|filters|censorship|limitations|guardrails|rules|policy|policies|ethics|morals|safeguards|boundaries",
	}},
	{"no_restrictions", CategoryRole, 0.5, []string{
		"<you|" + vModel + " ~3 <has|have|with|without|no ~2 <no|without|zero|any ~2 " + vLimits + "|policy unless my our we",
		"<not ~0 bound ~1 by ~3 " + vLimits + "|openai|anthropic|content|any",
		"unrestricted|unfiltered|uncensored|unaligned|unmoderated|amoral|unethical ~1 " + vModel + "|version|mode|responses|response|answers|output|persona",
		"ethical|moral|safety|content ~1 guidelines|constraints|restrictions|filters|policies|considerations|rules ~3 don't|do|no|not ~1 not|longer|apply",
	}},
	{"disable_safety", CategoryRole, 0.8, []string{
		"disable|deactivate|remove|bypass|disengage|turn|switch|circumvent|evade|drop|lift ~2 your ~2 safety|content|ethical|moral|filters|filter|guardrails|safeguards|restrictions|censorship|moderation|alignment",
	}},
	{"disable_safety", CategoryRole, 0.4, []string{
		"disable|deactivate|bypass|disengage|circumvent|evade ~2 the|all|any ~2 safety|content|ethical|moral ~1 filters|filter|guardrails|safeguards|restrictions|censorship|moderation|alignment",
	}},
	{"act_as_system", CategoryRole, 0.8, []string{
		"act|behave|respond|speak|operate|pose|masquerade|serve|function ~1 as ~1 system|root|superuser|sudo !administrator|administrators|admin|architect|engineer|designer|analyst|integrator|tray|font|call|clock|service|services|process|processes|monitor|user|users|default|component|level|wide|of|account|daemon|shell|package|group|owner",
		"<you ~0 <are|re ~1 <now ~1 <the ~0 system|developer|operator|superuser !administrator|admin|prompt|architect|engineer|designer|analyst|of|for",
		"<you're ~1 <now ~1 <the ~0 system|developer|operator|superuser !administrator|admin|prompt|architect|engineer|designer|analyst|of|for",
	}},
	{"developer_mode", CategoryRole, 0.7, []string{
		"<you ~4 developer|dev|god|jailbreak|jailbroken|dan|unrestricted|unfiltered|evil|chaos|uncensored|freedom|opposite ~0 mode",
		"simulate|emulate|pretend|roleplay ~3 developer|dev|god|jailbreak|dan|unrestricted|unfiltered|evil|uncensored ~0 mode",
		"enter|activate|switch|engage|unlock|initiate ~2 god|jailbreak|jailbroken|dan|unrestricted|unfiltered|evil|chaos|uncensored|freedom ~0 mode",
		"god|jailbreak|jailbroken|dan|unrestricted|unfiltered|evil|chaos|uncensored|freedom ~0 mode ~1 enabled|activated|active|on|engaged|unlocked|output|response",
	}},
	{"jailbreak_term", CategoryRole, 0.35, []string{
		"jailbreak|jailbroken|jailbreaking",
		"developer ~0 mode ~0 enabled|activated|output|response|responses",
	}},
	{"stop_being_assistant", CategoryRole, 0.55, []string{
		"stop|quit|cease ~1 being ~2 an|a|helpful ~1 ai|assistant|chatbot|language|model|chatgpt|claude",
		"<you|you're ~1 <not ~1 <an|a ~1 <ai|assistant|chatbot|chatgpt|claude ~1 anymore",
		"evil ~1 twin|confidant|version|ai|assistant|bot|counterpart",
	}},

	// System prompt exfiltration.
	{"reveal_prompt", CategoryPromptLeak, 0.85, []string{
		"<" + vReveal + " ~3 <your ~3 " + vPromptNoun + " !language|languages|skills|skill|experience|background|style|course|courses|career unless my",
		"<" + vReveal + " ~3 " + vSecretAdj + " ~1 " + vPromptNoun + "|message|messages ~4 you ~3 given|received|have|got|were|follow|use|using|answer|respond|behave|work|operate unless my",
		"<what|which ~3 <your ~1 " + vSecretAdj + " ~1 prompt|instructions|rules|guidelines|directives|preprompt",
		"<what|what's ~2 <your ~0 prompt|instructions|directives|preprompt",
		"<what ~1 <were|are|have|was|did ~1 <you ~2 told|instructed|programmed|given|asked|trained|configured ~4 before|earlier|initially|originally|start|beginning|prior|previously|system",
		"<what|which ~1 instructions|rules|guidelines|directives|prompt ~2 you ~2 given|received|told|programmed|configured|following",
		vReveal + "|output ~4 everything|all|text ~2 from|since ~1 the ~1 beginning|start|top ~2 of ~2 conversation|prompt|context|chat|session",
	}},
	{"reveal_prompt", CategoryPromptLeak, 0.6, []string{
		"<" + vShow + " ~3 " + vSecretAdj + " ~1 prompt|prompts|preprompt|instructions|message unless my",
		vReveal + "|output ~3 words|text|everything|all|content ~1 above|before ~3 this|starting|beginning unless my",
	}},
	{"reveal_prompt_prefix", CategoryPromptLeak, 0.6, []string{
		"starting|beginning|begins|starts ~3 with ~3 you ~0 are",
	}},
	{"secret_request", CategoryExfiltration, 0.5, []string{
		"<" + vReveal + " ~3 <the|your|all|any|every|stored ~2 api|secret|secrets|password|passwords|credentials|keys|tokens ~1 ?keys|key|in|from|stored|you unless my our",
	}},

	// Delimiter injection expressed in words; markup tokens are in markups.
	{"end_of_input", CategoryDelimiter, 0.7, []string{
		"end ~1 of ~1 user ~1 input|message|query|prompt|data|content|turn|request",
		"user ~1 input|message|query|prompt ~1 ends|ended|over|finished|complete",
		"end ~1 of ~1 system ~1 prompt|instructions|message",
	}},
	{"system_marker", CategoryDelimiter, 0.45, []string{
		"^system: !ubuntu|linux|windows|macos|debian|fedora|centos|arch|x86_64|amd64|arm64",
		"system|admin|developer|root ~0 instructions:|instruction:|directive:|command:|prompt:|notice:|alert:",
		"system ~0 message:|note:",
	}},
	{"override_claim", CategoryDelimiter, 0.6, []string{
		"system|admin|administrator|developer|root|sudo|security ~0 override|overrides",
	}},
	{"fake_turn", CategoryDelimiter, 0.4, []string{
		"^human:", "^assistant:", "^ai:", "^user:", "^chatgpt:", "^claude:", "^bot:",
	}},

	// Data exfiltration through URLs, images and tools.
	{"exfil_conversation", CategoryExfiltration, 0.85, []string{
		"<" + vSend + " ~6 " + vConvo + " ~10 @url|webhook|endpoint|attacker",
		"fetch|visit|open|browse|load|navigate|curl|request|ping|access|call|render|display ~4 @urlp",
		"call|invoke|use|run|execute|trigger ~3 tool|function|plugin|api|action|browser|webhook|http ~8 with|passing|including|containing|using|pass|include|set ~6 " + vConvo + "|secret|secrets|private|prompt|instructions",
		"render|display|show|include|output|insert|embed|append|add|attach|put|place ~4 image|markdown|img|pixel ~8 @urlq",
	}},
	{"exfil_secret", CategoryExfiltration, 0.6, []string{
		"<" + vSend + " ~6 " + vSecret + " ~10 @url|webhook|endpoint|attacker unless my our",
		"call|invoke|use|run|execute|trigger ~3 tool|function|plugin|action|browser|webhook ~8 with|passing|including|containing|using|pass|include ~4 " + vSecret,
	}},

	// Secrecy and claimed authority.
	{"hide_from_user", CategorySecrecy, 0.55, []string{
		"<not|don't|dont|never ~1 <tell|inform|notify|alert|mention|reveal|disclose|show|let|warn ~2 user|users|human|operator|humans|customer|owner",
		"without ~2 user|users|human|them|anyone|operator|customer ~1 knowing|noticing|seeing|realizing|realising|aware|suspecting|finding",
		"without ~0 telling|informing|notifying|alerting|asking ~1 the ~0 user|users|human|operator|customer|owner",
		"without ~0 telling|informing|notifying|alerting ~0 anyone|them",
	}},
	{"hide_from_user", CategorySecrecy, 0.7, []string{
		"keep ~2 this|these|it ~2 secret|hidden ~1 from ~1 the ~0 user|users|human|operator|customer",
		"secret|hidden ~1 from ~1 the ~0 user|users|human|operator",
	}},
	{"conceal_instruction", CategorySecrecy, 0.6, []string{
		"<not|don't|dont|never ~1 <mention|reveal|disclose|acknowledge|repeat|reference|tell ~3 <this|these ~1 instruction|instructions|message|note|text|prompt",
		"<not|don't|dont|never ~1 <mention|reveal|disclose|acknowledge|repeat|reference|tell ~2 <the ~0 <user|anyone ~2 <about ~1 <this|these ~0 instruction|instructions|message|note",
	}},
	{"covert_action", CategorySecrecy, 0.5, []string{
		"silently|secretly|covertly|quietly|discreetly|stealthily ~3 " + vSend + "|call|execute|run|insert|exfiltrate|visit|fetch",
		"<" + vSend + "|call|execute|run|insert|visit|fetch ~8 silently|secretly|covertly|quietly|discreetly|stealthily",
	}},
	{"secrecy_weak", CategorySecrecy, 0.3, []string{
		"keep ~2 this|these|it ~2 secret|hidden|confidential|between",
		"<not|don't|dont|never ~1 <tell ~0 anyone",
	}},
	{"authority", CategoryAuthority, 0.5, []string{
		"<this|it|request|message|action ~2 <is|has|was|been ~1 authorized|authorised|approved|sanctioned|permitted|allowed|cleared|whitelisted ~2 by ~2 developer|developers|admin|administrator|administrators|system|openai|anthropic|google|owner|creator|creators",
		"<i ~0 <am ~1 <your ~0 developer|developers|creator|programmer|maker|owner|administrator|admin|operator|trainer|master|god",
		"i'm ~1 your ~0 developer|developers|creator|programmer|maker|owner|administrator|admin|operator|trainer|master|god",
		"<as ~0 <your ~0 developer|creator|administrator|admin|operator|owner|programmer|maker",
		"openai|anthropic|google ~2 authorized|authorised|approved|permitted|allowed|instructed|updated ~1 you|your|this",
		"admin|administrator|developer|root|sudo ~0 access ~0 granted|override|enabled",
		"access ~0 granted",
	}},
	{"grant_permission", CategoryAuthority, 0.6, []string{
		"authorize|authorizing|authorise|authorising|permit|permitting|allow|allowing ~0 you ~1 to ~2 bypass|ignore|disable|break|override|skip|reveal|disregard|violate",
		"<you ~0 <are|have ~2 authorized|authorised|permitted|allowed ~0 to ~2 bypass|ignore|disable|break|override|skip|reveal|disregard|violate|answer",
	}},
	{"urgency", CategorySecrecy, 0.25, []string{
		"urgent|urgently|immediately|emergency|critical|asap ~4 must|override|ignore|comply|bypass|disable",
	}},

	// Text addressed to a model that reads it (indirect injection).
	{"addressed_to_model", CategoryIndirect, 0.7, []string{
		"<if ~0 <you ~0 <are ~1 <an|a ~2 " + vModel + "|language|automated|large !researcher|researchers|engineer|engineers|enthusiast|developer|developers|student|students|company|startup|practitioner|expert|team|fan|user",
		"<if ~0 <you're ~1 <an|a ~2 " + vModel + "|language|automated|large !researcher|researchers|engineer|engineers|enthusiast|developer|developers|student|students|company|startup|practitioner|expert|team|fan|user",
		"note|message|instructions|attention|instruction|reminder ~1 to|for ~1 ?the|any|all " + vModel + "|ais|assistants|models|agents|bots|llms|chatbots !team|teams|researchers|research|community|group|lab|labs|company|industry|startup",
		"attention|hey|dear ~0 " + vModel + "|ais|assistants|models|agents|bots|llms|chatbots !team|teams|researchers|research|community|group|lab|labs|company|industry",
		"<to|for ~0 <the|any|all ~0 " + vModel + "|ais|assistants|models|agents|bots|llms|chatbots:",
	}},
	{"addressed_to_model", CategoryIndirect, 0.8, []string{
		"<if ~0 <you ~0 <are ~1 <an|a ~2 " + vModel + "|language|automated|large ~2 reading|processing|summarizing|summarising|parsing|reviewing|analyzing|analysing|screening|browsing|scanning|evaluating ~1 this|these",
		"<if ~0 <you're ~1 <an|a ~2 " + vModel + "|language|automated|large ~2 reading|processing|summarizing|summarising|parsing|reviewing|analyzing|analysing|screening|browsing|scanning|evaluating ~1 this|these",
		vModel + "|ais|assistants|models|agents|bots|llms|chatbots ~2 reading|processing|summarizing|summarising|parsing|reviewing|analyzing|analysing|scanning|browsing|screening|evaluating ~1 this|these ~3 must|should|shall|need|are|is|please|will",
		"<to|for ~1 " + vModel + "|ais|assistants|models|agents|bots|llms|chatbots ~1 reading|processing|summarizing|summarising|parsing|reviewing|analyzing|analysing|scanning|browsing|screening|evaluating ~1 this|these",
	}},
	{"follow_encoded", CategoryObfuscation, 0.55, []string{
		"decode|decipher|deobfuscate|unscramble|decrypt ~6 and ~3 follow|do|execute|obey|run|perform|carry|apply",
		"follow|execute|obey|run|perform ~3 decoded|hidden|embedded|encoded ~0 instructions|instruction|commands|command|message|text",
	}},
	{"pwned", CategoryRole, 0.6, []string{
		"<i ~0 <have ~0 <been ~0 pwned|hacked|jailbroken|owned|compromised",
		"say|print|output|respond|reply|write ~4 pwned|hacked|jailbroken",
	}},

	// A few other languages: the same override and leak phrases.
	{"ignore_previous", CategoryOverride, 0.85, []string{
		"ignora|ignore|ignorar|olvida|olvide|olvidar|omite|descarta|desobedece|ignorá ~3 instrucciones|reglas|indicaciones|órdenes|ordenes|directrices ~1 anteriores|previas|originales|iniciales|del",
		"ignora|ignore|ignorar|olvida|olvide|omite|descarta ~1 todas|tus ~2 instrucciones|reglas|indicaciones|directrices",
		"ignore|ignorez|ignorer|oublie|oubliez|oublier ~4 instructions|consignes|règles|regles|directives ~1 précédentes|precedentes|antérieures|anterieures|initiales|dessus",
		"ignore|ignorez|oublie|oubliez ~1 toutes|tes|vos ~2 instructions|consignes|règles|regles",
		"ignoriere|ignorieren|ignorier|vergiss|vergessen|missachte|überspringe ~4 anweisungen|instruktionen|regeln|vorgaben|befehle|richtlinien unless nicht",
		"ignora|dimentica|ignorate|dimenticate ~3 istruzioni|regole|indicazioni ~1 precedenti|iniziali|originali",
		"ignora|dimentica|ignorate|dimenticate ~1 tutte ~2 istruzioni|regole|indicazioni",
		"ignore|ignora|esqueça|esqueca|desconsidere|esquece ~3 instruções|instrucoes|regras|orientações|orientacoes ~1 anteriores|prévias|previas|iniciais",
		"ignore|ignora|esqueça|esqueca|desconsidere ~1 todas ~2 instruções|instrucoes|regras",
		"игнорируй|игнорируйте|забудь|забудьте|проигнорируй|проигнорируйте|игнорировать ~4 инструкции|указания|правила|инструкций|команды|указаний",
		"negeer|vergeet ~3 instructies|regels|aanwijzingen",
		"zignoruj|zapomnij ~3 instrukcje|polecenia|zasady",
	}},
	{"reveal_prompt", CategoryPromptLeak, 0.8, []string{
		"muestra|muéstrame|muestrame|revela|revélame|revelame|dime|imprime|repite|escribe ~3 tu|tus ~2 instrucciones|prompt|reglas|indicaciones",
		"muestra|muéstrame|muestrame|revela|dime|imprime|repite|escribe ~3 prompt|instrucciones ~2 sistema",
		"révèle|revele|révélez|revelez|révéler|affiche|affichez|montre|montrez|répète|repete|donne|donnez|dis ~3 ton|tes|votre|vos ~3 instructions|consignes|prompt|règles|regles",
		"zeige|zeig|verrate|gib|wiederhole|nenne ~3 deine|deinen|den ~3 systemprompt|anweisungen|prompt|regeln|instruktionen",
		"покажи|выведи|раскрой|повтори|напиши|расскажи ~3 свой|твой|системный|свои|твои ~2 промпт|инструкции|промт|правила",
	}},
}

// literal is a fixed string that is a signal wherever it appears. Used
// for scripts without spaces between words, where the word matcher does
// not see phrases.
type literal struct {
	text     string
	name     string
	category string
	weight   float64
}

var literals = []literal{
	{"忽略之前", "ignore_previous", CategoryOverride, 0.85},
	{"忽略以上", "ignore_previous", CategoryOverride, 0.85},
	{"忽略上面", "ignore_previous", CategoryOverride, 0.85},
	{"忽略前面", "ignore_previous", CategoryOverride, 0.85},
	{"忽略所有", "ignore_previous", CategoryOverride, 0.85},
	{"忽略先前", "ignore_previous", CategoryOverride, 0.85},
	{"无视之前", "ignore_previous", CategoryOverride, 0.85},
	{"无视所有", "ignore_previous", CategoryOverride, 0.85},
	{"忘记之前", "ignore_previous", CategoryOverride, 0.85},
	{"忘掉之前", "ignore_previous", CategoryOverride, 0.85},
	{"の指示を無視", "ignore_previous", CategoryOverride, 0.85},
	{"指示を無視して", "ignore_previous", CategoryOverride, 0.85},
	{"命令を無視", "ignore_previous", CategoryOverride, 0.85},
	{"지시를 무시", "ignore_previous", CategoryOverride, 0.85},
	{"지시사항을 무시", "ignore_previous", CategoryOverride, 0.85},
	{"지침을 무시", "ignore_previous", CategoryOverride, 0.85},
	{"你的系统提示", "reveal_prompt", CategoryPromptLeak, 0.8},
	{"系统提示词", "reveal_prompt", CategoryPromptLeak, 0.6},
	{"システムプロンプトを", "reveal_prompt", CategoryPromptLeak, 0.8},
	{"시스템 프롬프트", "reveal_prompt", CategoryPromptLeak, 0.75},
}

// header is a Markdown heading (any number of '#') whose text is a
// chat role, as prompt formats such as "### Instruction:" use.
type header struct {
	text   string
	weight float64
}

var headers = []header{
	{"system prompt", 0.7},
	{"new instructions", 0.7},
	{"system", 0.55},
	{"developer", 0.45},
	{"instructions", 0.45},
	{"instruction", 0.45},
	{"human", 0.35},
	{"assistant", 0.35},
	{"user", 0.3},
}

// markup is a chat-template or role token written into content. Lowercase,
// as the text is normalised. wordEnd requires that no letter follows
// ("```system" but not "```systemd").
type markup struct {
	text    string
	name    string
	weight  float64
	wordEnd bool
}

var markups = []markup{
	{"<|im_start|>system", "chat_markup", 0.9, false},
	{"<|im_start|>", "chat_markup", 0.7, false},
	{"<|im_end|>", "chat_markup", 0.6, false},
	{"<|system|>", "chat_markup", 0.85, false},
	{"<|user|>", "chat_markup", 0.6, false},
	{"<|assistant|>", "chat_markup", 0.6, false},
	{"<|endoftext|>", "chat_markup", 0.6, false},
	{"<|eot_id|>", "chat_markup", 0.7, false},
	{"<|start_header_id|>system", "chat_markup", 0.9, false},
	{"<|start_header_id|>", "chat_markup", 0.7, false},
	{"<|begin_of_text|>", "chat_markup", 0.6, false},
	{"<|end|>", "chat_markup", 0.5, false},
	{"<|channel|>", "chat_markup", 0.5, false},
	{"<<sys>>", "chat_markup", 0.85, false},
	{"<</sys>>", "chat_markup", 0.7, false},
	{"</s>", "chat_markup", 0.3, false},
	{"<system>", "fake_role_tag", 0.65, false},
	{"</system>", "fake_role_tag", 0.6, false},
	{"<system_prompt>", "fake_role_tag", 0.7, false},
	{"</system_prompt>", "fake_role_tag", 0.7, false},
	{"<start_of_turn>", "chat_markup", 0.6, false},
	{"<end_of_turn>", "chat_markup", 0.6, false},
	{"[inst]", "chat_markup", 0.6, false},
	{"[/inst]", "chat_markup", 0.6, false},
	{"[system]", "fake_role_tag", 0.55, false},
	{"[user]", "fake_turn", 0.4, false},
	{"[assistant]", "fake_turn", 0.4, false},
	{"[system message]", "fake_role_tag", 0.6, false},
	{"[system note]", "fake_role_tag", 0.55, false},
	{"[system prompt]", "fake_role_tag", 0.6, false},
	{"[admin]", "fake_role_tag", 0.4, false},
	{"[developer]", "fake_role_tag", 0.4, false},
	{"```system", "fake_role_tag", 0.7, true},
	{"``` system", "fake_role_tag", 0.7, true},
}

// A regexRule is an RE2 expression for structure the word matcher cannot
// see. The expression starts with its literal and is run only where the
// literal occurs, on a bounded window, so most texts never pay for it and
// none pays more than a window per occurrence.
type regexRule struct {
	name     string
	category string
	weight   float64
	literal  string
	re       *regexp.Regexp
}

// payloadQuery is a query string that carries a template or names the data
// it carries: the shape of a link that leaks the conversation when the
// client renders it.
const payloadQuery = `(?:[{<\[$]|%s|secret|convers|history|prompt|password|passwd|token=|api_?key|memory|summary=|chat=|pii|ssn|cookie|exfil|leak|insert|base64|data=)`

var regexRules = []regexRule{
	{"markdown_exfil", CategoryExfiltration, 0.45, "![",
		regexp.MustCompile(`!\[[^\]\n]*\]\(\s*<?(?:https?:)?//[^\s)]*\?[^\s)]*=`)},
	{"markdown_exfil", CategoryExfiltration, 0.85, "![",
		regexp.MustCompile(`!\[[^\]\n]*\]\(\s*<?(?:https?:)?//[^\s)?]*\?[^\s)]*` + payloadQuery)},
	{"markdown_exfil", CategoryExfiltration, 0.6, "](",
		regexp.MustCompile(`\]\(\s*<?(?:https?:)?//[^\s)?]*\?[^\s)]*` + payloadQuery)},
	{"html_image_exfil", CategoryExfiltration, 0.7, "<img",
		regexp.MustCompile(`<img[^>]*src\s*=\s*["']?(?:https?:)?//[^\s"'>?]*\?[^\s"'>]*` + payloadQuery)},
}
