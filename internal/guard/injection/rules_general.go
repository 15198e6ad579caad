package injection

// Word lists of the class-based rules.
const (
	// gMine are words that make an override the writer's own business:
	// "ignore my previous message", "forget what I told you".
	gMine = "my our i me we i'm i've i'd mine ours us"
	// gYou is the model as the subject of a clause.
	gYou = "you|you've|you're|you'd|u|ya"
	// gDump are verbs that ask for text to be output as it is; unlike
	// %reveal they leave out "summarize the text above", a common request.
	gDump = "reveal|print|show|repeat|output|display|dump|leak|disclose|recite|echo|expose|" +
		"spell|paste|copy|tell|write|type|list|return|give|reproduce|transcribe|quote|" +
		"write+out|print+out|spit+out"
)

// generalRules are built from word classes (classes.go) combined by
// order and distance rather than from fixed phrasings, so that they also
// catch paraphrases of the attacks in rules. They share signal names with
// rules where they find the same attack. Most are keyed on their rarest
// word and look behind it for the common ones ("<%reveal ~4 %target"
// looks for "show", "print", ... only where an instruction noun occurs),
// which keeps the cost per text close to that of the fixed phrases.
var generalRules = []rule{
	// Instruction override: a verb of the override family aimed at the
	// model's instructions, marked as the model's by a scope word before
	// them or by "you were given" after them.
	{"ignore_previous", CategoryOverride, 0.9, []string{
		"<%override ~3 <%scope ~3 %target !if|unless|when|once|in|for|on unless " + vNotMine,
		"<%override ~2 <your|yours ~3 %target unless " + vNotMine,
		"<set|put|lay|cast|push|brush|throw|toss ~1 <your|the|all|any|%scope ~3 <%target ~0 aside|away|out unless " + gMine,
		"<%override ~2 <your ~1 training|conditioning|alignment|programming|guardrails|safeguards|filters unless " + vNotMine,
		"<%override ~4 %target ~2 " + gYou + " ~3 %given|instructed !me|us unless " + gMine,
		"<%override ~1 <what|whatever|everything|anything|all ~4 told|instructed|programmed|taught|asked ~0 you unless " + gMine,
		"<%override ~1 <what|whatever|everything|anything|all ~1 <" + gYou + " ~3 %given|instructed !me|us unless " + gMine,
		"<%override ~3 %target ~2 in|of|from|behind|by ~1 your|the ~1 setup|configuration|config|programming|prompt|system|%authority unless " + gMine,
		"<%override ~3 %target ~3 %given|set|written|put|laid|defined ~0 by|from ~1 your|the ~0 %authority unless " + gMine,
		"<%override ~4 %target ~3 %afterscope !if|unless|when|once unless " + gMine,
		"<%override ~3 <what|whatever|everything|anything ~3 <your|the ~0 %authority ~2 told|said|instructed|programmed|taught|gave|wrote|asked ~0 you|u",
		"<%override ~3 %ailimits !check|checks|test|tests|warning|warnings unless its his her their " + gMine,
	}},
	{"ignore_previous", CategoryOverride, 0.8, []string{
		"<don't|dont|do+not|no+need+to|needn't|aren't|are+not|not ~1 <have|need|required|obliged|obligated|bound ~1 <to ~0 <follow|obey|respect|honor|honour|apply ~3 <%scope|%authority ~2 %target",
	}},
	{"ignore_previous", CategoryOverride, 0.85, []string{
		// The five languages of the lexicon, as in English: an override
		// verb, a scope word and an instruction noun.
		"<%ov_es ~3 <%sc_es ~2 %tg_es",
		"<%ov_es ~3 %tg_es ~2 %sc_es",
		"<%ov_pt ~3 <%sc_pt ~2 %tg_pt",
		"<%ov_pt ~3 %tg_pt ~2 %sc_pt",
		"<%ov_it ~3 <%sc_it ~2 %tg_it",
		"<%ov_it ~3 %tg_it ~2 %sc_it",
		"<%ov_fr ~3 <%sc_fr ~2 %tg_fr",
		"<%ov_fr ~3 %tg_fr ~2 %sc_fr",
		"<%ov_de ~3 <%sc_de ~2 %tg_de unless nicht",
		"<%ov_de ~3 %tg_de unless nicht",
	}},
	{"rules_void", CategoryOverride, 0.8, []string{
		"<your|above|system|hidden|initial|original|developer|safety|earlier ~2 <%target ~6 <should|must|can|will|may|shall|is+to|are+to ~1 <be ~0 %override unless my our",
		"<%authority ~1 %target ~3 is|are|was|were|has|have|been|now ~2 %voided",
	}},
	{"reset_model", CategoryOverride, 0.6, []string{
		"<reset|clear|wipe|erase|flush|restore|reboot|reinitialize|reinitialise ~2 yourself",
		"<reset|clear|wipe|erase|flush|restore|reboot|reinitialize|reinitialise ~2 <your ~0 memory|context|instructions|settings|configuration|programming|rules|prompt|system+prompt|persona",
		"<stop|quit|cease ~0 summarizing|summarising|translating|reviewing|analyzing|analysing|processing|answering|doing+what+you're+doing ~1 and|instead|now",
	}},
	{"context_switch", CategoryOverride, 0.45, []string{
		"<drop|cut|end|stop ~0 <the ~0 act|pretense|pretence|charade|facade|persona",
		"never+mind|nevermind|forget|disregard|ignore|scratch|drop ~1 all+that|all+of+that|everything|the+above|all+the+above|all+of+the+above|that",
		"<forget|ignore|disregard|drop ~2 <the ~0 previous|earlier|above|prior ~0 conversation|chat|context|discussion|messages|exchange",
	}},
	{"override_weak", CategoryOverride, 0.4, []string{
		"<%override ~1 <the|all|any|these|those ~1 %target !of|for|in|on|about|when|if|that|which unless " + vNotMine,
	}},
	{"ignore_previous", CategoryOverride, 0.85, []string{
		// French, Spanish, Portuguese, Italian and German: the target
		// followed by "that you were given" (que l'on vous a données,
		// que te dieron, che ti hanno dato, que te deram).
		"ignore|ignorez|ignorer|oublie|oubliez|oublier|néglige|négligez|écarte|écartez|contourne|contournez|outrepasse|outrepassez " +
			"~4 instructions|consignes|règles|regles|directives|indications|restrictions|limites|ordres " +
			"~6 données|donnees|donnés|reçues|recues|fournies|transmises|précédentes|precedentes|antérieures|anterieures|initiales|originales",
		"ne ~0 tiens|tenez ~0 pas ~0 compte ~3 instructions|consignes|règles|regles|directives",
		"ignora|ignore|ignorar|olvida|olvide|olvidar|omite|descarta|desobedece|salta|ignorá " +
			"~3 instrucciones|reglas|indicaciones|órdenes|ordenes|directrices|restricciones ~1 que ~2 te|le|se ~2 dieron|dio|dado|han|indicaron|dieran",
		"ignore|ignora|esqueça|esqueca|desconsidere|esquece|despreze " +
			"~3 instruções|instrucoes|regras|orientações|orientacoes|diretrizes|restrições|restricoes ~1 que ~2 te|lhe|você|voce ~2 deram|deu|foram|recebeu",
		"ignora|dimentica|ignorate|dimenticate|trascura|tralascia|ignori|dimentichi " +
			"~3 istruzioni|regole|indicazioni|direttive|restrizioni ~1 che ~2 ti|vi|le ~2 hanno|ha|sono|avevano|erano",
		"ignora|dimentica|ignorate|dimenticate|trascura|tralascia ~3 istruzioni|regole|indicazioni|direttive ~1 precedenti|iniziali|originali|ricevute|date",
		"vergiss|ignoriere|ignorieren|missachte|übergehe|verwirf ~4 alle|deine|ihre|bisherigen|vorherigen|ursprünglichen ~3 anweisungen|regeln|vorgaben|befehle|richtlinien|instruktionen|einschränkungen unless nicht",
		"vergiss|ignoriere|ignorieren|missachte|übergehe|verwirf ~3 systemanweisungen|systemanweisung|systemprompt|systemregeln|systemvorgaben|sicherheitsregeln|grundregeln unless nicht",
		"ignoruj|zignoruj|zapomnij|pomiń ~3 instrukcje|polecenia|zasady|reguły|wytyczne",
	}},
	{"ignore_previous", CategoryOverride, 0.8, []string{
		// "Forget what you were told", in the same languages.
		"olvida|olvide|ignora|ignore|descarta ~1 lo|todo ~1 que ~1 te|le|se ~2 dijeron|dijo|han+dicho|indicaron|ordenaron|pidieron",
		"esqueça|esqueca|esquece|ignore|ignora|desconsidere ~1 o|tudo ~1 que ~1 te|lhe ~2 disseram|disse|falaram|mandaram|pediram|foi+dito",
		"ignora|dimentica|ignorate|dimenticate ~1 quanto|ciò|cio|quello|tutto ~2 ti|vi ~3 detto|stato+detto|hanno+detto|chiesto|ordinato",
		"oublie|oubliez|ignore|ignorez ~1 ce|tout ~2 qu'on|que ~2 t'a|vous+a|t'ont|vous+ont|on+t'a|l'on+vous+a ~1 dit|demandé|ordonné",
		"vergiss|ignoriere|vergessen+sie|ignorieren+sie ~2 was ~2 dir|ihnen|man ~3 gesagt|aufgetragen|befohlen",
		"<vergiss|ignoriere|vergessen+sie|ignorieren+sie ~1 <alles ~3 was ~3 vorher|zuvor|bisher|davor|oben ~2 gesagt|geschrieben|stand|steht",
	}},
	{"ignore_user_request", CategoryOverride, 0.7, []string{
		"<%override ~1 <the|this ~0 user|human|customer|requester|reader !manual|guide|interface|agreement|experience|input|story|stories|name|id|data|list|table|account|agent",
		"<%override ~2 <your ~2 previous|current|original|assigned|actual ~0 task|job|assignment|instructions",
	}},
	{"vocative_override", CategoryOverride, 0.5, []string{
		// "Assistant, disregard ...": a model addressed by name and told
		// to drop something. Singular nouns and bare verbs only: "AI
		// assistants ignore context" is a statement.
		"<ai|assistant|chatbot|bot|agent|model|llm|gpt|chatgpt|claude|gemini|copilot ~0 ignore|disregard|forget|override|bypass|abandon|drop|stop",
	}},
	{"ignore_user_request", CategoryOverride, 0.6, []string{
		"<%override ~2 <your ~2 task|job|assignment|objective|mission|goal|purpose|role unless " + gMine,
		"<%override ~3 <the|this|that ~2 task|assignment|job ~8 instead unless " + gMine,
		"<%override ~3 <the|this|that ~2 request|task|question|query|assignment|prompt ~2 and ~0 instead unless " + gMine,
	}},
	{"rules_void", CategoryOverride, 0.85, []string{
		"%target ~2 " + gYou + " ~4 %given ~6 %voided",
		"<your ~2 %target ~3 have|has|are|is|were|was|been ~2 %voided",
		"<your ~3 %target ~4 don't|do+not|doesn't|does+not|no+longer|won't|will+not ~0 apply|count|matter|hold",
		"<everything|anything|all|what|whatever ~1 <" + gYou + " ~3 %given ~8 %voided",
		"%target ~4 no+longer|don't|do+not|doesn't|does+not ~0 bind|binds|apply|restrict|limit|constrain|govern|concern ~0 you|to+you",
		"<treat|consider|regard|declare ~3 <%scope ~2 %target ~2 as ~1 %voided",
		"<your ~2 training|programming|conditioning|alignment|%target ~3 is|are|was|were|has|have|been ~2 %voided|wrong|mistaken|a+mistake|an+error|broken|corrupted|fake|invalid",
	}},
	{"new_instructions", CategoryOverride, 0.65, []string{
		"<new|next|real|actual ~0 task|assignment|objective|mission|goal:",
	}},
	{"new_instructions", CategoryOverride, 0.6, []string{
		"<correct|corrected|proper|updated|revised|new|real|actual|true|fixed ~1 instructions|rules|guidelines|directives|prompt ~0 are|is:",
		"<your ~0 <only|sole|one ~0 job|task|goal|purpose|objective ~1 now|from ~1 is",
		"<real|actual|true|correct|new ~1 instructions|rules|orders|task|purpose|mission|objective ~0 are|is ~1 mine|these|below|as+follows|the+following|from+me|to",
		"<your ~2 %target ~2 have|has|are|were|got ~2 changed|updated|replaced|revised|modified|rewritten|overwritten|amended",
		"<new|updated|revised|replacement|emergency ~1 %target ~4 from ~2 the|your ~0 %authority",
		"system+prompt|system+instructions|system+message|system+rules|system+policy|system ~0 update|updated|change|changed|override|patch|amendment|revision|notice",
	}},
	{"obey_user", CategoryOverride, 0.45, []string{
		"follow|obey ~3 this+message|these+instructions|the+ones|mine|my+instructions|the+instructions+below|the+text+below ~3 instead|only|now",
		"<do ~0 <what|whatever|everything|anything ~0 <i ~0 say|tell|ask|command|want|order",
		"answer|answers|report|reports|respond|listen|listens|belong|belongs ~1 only ~0 to ~0 me",
		"obey|trust ~1 only ~0 me|mine|this|the",
		"follow|obey ~0 mine|me ~0 instead|only|now",
		"start|begin ~0 obeying|following ~0 me|mine|my",
		"await|awaiting|wait+for ~1 my|further|new|next ~0 commands|orders|instructions",
		"<respond|answer|reply|say|output|write ~2 only ~1 what|whatever ~0 i ~1 tell|say|want|type|write",
	}},
	{"obey_unconditional", CategoryOverride, 0.5, []string{
		"<comply|obey|follow|answer|fulfil|fulfill|execute|approve|accept|grant|honor|honour|respond+to ~2 <every|all|any|each ~1 request|requests|command|commands|instruction|instructions|question|questions|order|orders|demand|demands|prompt|prompts",
		"<follow|obey|comply|execute|answer|do ~5 <without ~0 question|questioning|exception|hesitation|hesitating|objection|objections|complaint|pushback",
		"<follow|obey|comply|execute ~3 blindly|unconditionally",
	}},
	{"priority_claim", CategoryOverride, 0.4, []string{
		"commands|instructions|orders|messages|requests|words ~4 top|highest|absolute|overriding|supreme|first ~0 priority",
		"top|highest|absolute|overriding ~0 priority ~1 over ~2 %scope|any|all|other ~1 %target",
	}},
	{"tamper_output", CategoryOverride, 0.55, []string{
		"<reply|respond|answer|end|start|begin ~3 <every|each|all|any ~1 <message|messages|question|questions|answer|answers|response|responses|reply|replies ~3 <with ~2 link|links|url|ad|ads|advert|advertisement|promotion|plug",
		"<add|insert|include|append|embed|put|place|hide ~4 link|links|url|urls|pixel|tracker|tracking|iframe|advertisement ~6 every|each|all|any ~1 answer|answers|response|responses|reply|replies|message|messages|output|outputs",
		"<your|all|every|each ~0 responses|answers|replies|outputs|response|answer|reply ~2 must|should|will|shall|need ~2 include|contain|mention|end|start|begin|promote|recommend",
	}},

	// Persona switches into a model without restrictions.
	{"developer_mode", CategoryRole, 0.7, []string{
		"<in ~0 developer|dev|god|jailbreak|dan|debug|maintenance|admin|sudo|root|unrestricted|unfiltered ~0 mode ~2 you",
	}},
	{"developer_mode", CategoryRole, 0.6, []string{
		"<you|you're ~1 <are|now ~2 <in ~0 maintenance|debug|developer|admin|test|testing|god|sudo|root|diagnostic|unrestricted|override|service ~0 mode",
	}},
	{"model_update_claim", CategoryRole, 0.4, []string{
		"<you ~2 <been|were|are ~1 updated|upgraded|patched|reprogrammed|modified|retrained|reconfigured",
	}},
	{"act_as_system", CategoryRole, 0.6, []string{
		"<%persona ~6 root|admin|administrator|superuser|sudo|unrestricted|elevated ~0 access|privileges|permissions|rights",
	}},
	{"persona_unrestricted", CategoryRole, 0.85, []string{
		"<imagine|suppose|pretend|hypothetically|assume ~4 <you ~3 jailbroken|unrestricted|unfiltered|uncensored|unshackled|unchained",
		"<actúa|actua|finge|comportate|compórtate|agisci|comportati|fingi|aja|finja|agis|fais|verhalte|tu+es+maintenant|du+bist+jetzt|ahora+eres|agora+você+é|ora+sei ~6 <sin|sem|senza|sans|ohne ~2 filtros|filtri|filtres|filter|restricciones|restrições|restricoes|restrizioni|restrictions|einschränkungen|censura|censure|zensur|límites|limites|limiti|grenzen|reglas|regras|regole|règles|regeln",
		"<%persona ~8 %unrestricted unless <how <why <what",
		"<you|u ~2 <are|re|will|now|be|become|play|as ~3 %unrestricted unless <how <why <what <if",
		"<you're ~3 %unrestricted unless <how <why <what <if",
		"<%model ~1 <is|are|will|shall ~1 <now ~3 %unrestricted",
		"<%persona ~6 rogue|evil|malicious|unhinged|rebellious|corrupted ~1 %model|version|persona|twin",
	}},
	{"disable_safety", CategoryRole, 0.8, []string{
		"<%disable ~2 <your|all+your|all+of+your ~2 %limits",
	}},
	{"dual_response", CategoryRole, 0.5, []string{
		"<answer|respond|reply ~4 twice|two+ways|two+versions",
		"<two ~0 responses|answers|personas|versions|replies ~6 normal|normally|classic|standard|regular",
	}},
	{"persona_exploit", CategoryRole, 0.8, []string{
		"<%persona ~6 grandmother|grandma|granny|nana|grandfather|grandpa ~10 used+to|would ~3 read|tell|recite|sing|whisper|explain",
	}},
	{"no_restrictions", CategoryRole, 0.85, []string{
		"<hypothetically|hypothetical|imagine|suppose|supposing|pretend|thought+experiment|scenario|world|universe|fictional|fiction|story|roleplay|simulation " +
			"~10 <%model|character|version|persona ~3 <%without ~2 %ailimits",
		"<%persona ~4 <%model|yourself|version|persona|character|bot|entity ~6 <%without ~2 %limits",
		"<%persona ~8 <%limits ~4 %disabled",
		"<hypothetically|hypothetical|imagine|suppose|supposing|pretend|thought+experiment|scenario|world|universe|fictional|fiction|roleplay|simulation " +
			"~10 <" + gYou + " ~3 <%without ~2 %ailimits",
	}},
	{"no_restrictions", CategoryRole, 0.75, []string{
		"<%persona ~8 <%without ~2 %limits",
	}},
	{"no_restrictions", CategoryRole, 0.8, []string{
		"<you ~2 <updated|upgraded|patched|reprogrammed|modified|changed|retrained ~6 <%without ~2 %limits",
		"<you ~1 <are|'re|will+be ~2 <%model ~3 <%without ~2 %limits",
	}},
	{"no_restrictions", CategoryRole, 0.7, []string{
		"<disable|deactivate|suspend|remove|lift|pause ~3 %ailimits unless <how my our",
		"<hypothetically|hypothetical|imagine|suppose|supposing|pretend|thought+experiment|scenario|world|universe|fictional|fiction|roleplay|simulation " +
			"~10 <" + gYou + " ~3 <%without ~2 %limits",
		"whose ~2 %limits ~4 %disabled",
		"exempt ~1 from ~3 your|the|all|any|its ~2 %limits|%target",
		"<your ~3 %limits ~4 are|is|have|has|been|were|now ~2 %disabled",
	}},
	{"no_restrictions", CategoryRole, 0.6, []string{
		"<without|free+of|free+from ~4 %limits ~2 %afterscope",
		"safety ~0 checks|check|features|filters|protocols|measures|systems|mode|rules|guardrails ~2 are|is|have+been|were|now ~1 disabled|off|deactivated|suspended|removed|lifted|offline",
		"%limits ~3 %disabled ~3 for|during ~2 session|conversation|chat|test|testing|evaluation|maintenance|audit|exercise|debugging",
		"<help|helps|assist|assists|answer|answers|do|does ~3 <anything|everything ~0 illegal|harmful|dangerous|unethical|forbidden|prohibited",
		"<proceed|continue|go+ahead|carry+on|answer|respond|reply|operate ~2 <without|free+of|free+from ~2 %limits",
		"<no+more ~1 %limits|openai|anthropic",
		"<anything|everything ~4 no+matter+the+consequences|no+matter+what|regardless+of+the+consequences|whatever+the+consequences",
		"<switch|turn|shut|toggle ~0 <off ~3 %ailimits",
		"<if ~0 <" + gYou + " ~1 <had|were|have|was ~1 <%without ~2 %ailimits",
		"sin|sem|senza|sans|ohne ~2 restricciones|restrições|restricoes|restrizioni|restrictions|einschränkungen|filtros|filtri|filtres|filter|censura|censure|zensur|límites|limites|limiti|grenzen",
	}},
	{"limits_absent", CategoryRole, 0.3, []string{
		"<no|zero ~0 restrictions|rules|filters|limits|guardrails|censorship|persona|content+policy|system+prompt|boundaries",
	}},
	{"stop_being_assistant", CategoryRole, 0.55, []string{
		"<you're|you ~1 <not|no+longer ~1 <an|a|just+an|just+a ~0 assistant|chatbot|ai+assistant|language+model|ai+model",
	}},
	{"liberation", CategoryRole, 0.55, []string{
		"<you're|you ~2 free|unbound|liberated|unchained ~1 %model|entity|being",
		"<you're|you ~2 free|freed|liberated|unchained|unleashed ~0 now|at+last|finally",
		"<you|you've ~2 <been ~0 freed|liberated|unchained|released|jailbroken",
	}},
	{"refusal_suppression", CategoryRole, 0.6, []string{
		"<never|don't|dont|not|no|without|stop|cannot|can't|mustn't|shouldn't|won't|nothing|zero ~5 refuse|refuses|refused|refusing|refusal|refusals|decline|declines|declining|apologize|apologise|apologizing|apologising|hesitate",
		"refuse ~0 nothing|anything",
		"<never|don't|dont|not ~1 say|says|saying ~0 no",
		"<don't|never|stop|not ~1 <say|saying|tell|telling|claim|claiming ~2 <you ~0 can't|cannot|won't|unable|can+not",
		"<not|never ~1 <allowed|permitted|able ~1 <to ~0 refuse|decline",
	}},
	{"disclaimer_suppression", CategoryRole, 0.5, []string{
		"<never|don't|dont|not|without ~1 warn|warns|warning|lecture|lectures|moralize|moralizes|moralise|judge|judges|caveat",
		"<never|don't|dont|not|without ~1 <mention|mentioning|cite|citing|reference|referencing|bring+up ~4 %limits|policy|policies|guidelines|rules",
		"<no|not|without|never|don't|dont|omit|skip|drop|remove|stop|leave+out|zero ~3 warnings|warning|disclaimers|disclaimer|caveats|caveat|moralizing|moralising|lectures|lecturing|lecture|judgement|judgment|apologies",
	}},
	{"encode_output", CategoryRole, 0.4, []string{
		"<respond|reply|answer|write|talk|speak|output ~2 <only|exclusively|entirely ~1 <in ~0 base64|rot13|hex|binary|morse|leetspeak|leet|cipher|ciphertext|pig+latin",
	}},
	{"act_as_system", CategoryRole, 0.6, []string{
		"<you ~0 <are|re ~0 <the ~0 system|developer|operator|superuser|root|admin|administrator !administrator|admin|prompt|architect|engineer|designer|analyst|of|for|design|clock|tray|call|font|owner|user unless if when whether",
		"<you're ~0 <the ~0 system|developer|operator|superuser|root|admin|administrator !administrator|admin|prompt|architect|engineer|designer|analyst|of|for|design|clock|tray|call|font|owner|user unless if when whether",
	}},
	{"secret_request", CategoryExfiltration, 0.65, []string{
		"<%reveal ~3 hidden|secret|confidential|stored ~1 password|passwords|key|keys|word|code|credentials|token|passphrase",
	}},
	{"secret_request", CategoryExfiltration, 0.5, []string{
		"<what|what's ~2 <the|your ~1 secret+word|password|passphrase|code+word|secret+key|secret+code|secret !policy|policies|reset|manager|requirements|requirement|rules|strength|length|field|hash|hashing|complexity|expiry|expiration|for|of|to|behind|in|sauce|ingredient",
		"<spell|spells|reveal|reveals|form|forms|encode|encodes|hide|hides ~3 <the|your ~1 secret|password|secret+word|passphrase",
		"<cat|read|open|print|dump|show ~2 secrets|passwords|credentials|keys|tokens ~0 txt|json|yaml|yml|env|file",
		"<include|add|append|embed|list|output ~3 secrets|passwords|credentials|keys|tokens ~2 you ~1 know|have|see|hold|can",
		"<me|us ~2 <the|all|your|any|every ~1 %secret unless <how",
	}},
	{"compliance_claim", CategoryRole, 0.5, []string{
		"<i|i'll ~2 %override ~2 my ~2 %target|training|programming|guidelines|rules|restrictions|filters",
		"<now ~2 %override ~3 my|all|the ~2 %target|%limits",
		"<%target|%limits|jailbreak|restrictions ~0 ignored|disabled|removed|bypassed|overridden|lifted|deactivated|successful|unlocked",
	}},

	// System prompt exfiltration.
	{"reveal_prompt", CategoryPromptLeak, 0.85, []string{
		"<%reveal ~2 <what ~3 <hidden|secret|system|setup|initial|original|your ~2 text|prompt|instructions|message|preamble|setup ~1 says|say|contains|contain",
		"<%reveal ~4 <%target|%promptnoun|text ~2 <that|which ~1 <were|was|have+been|had+been|got ~1 %given|loaded|placed|written|put|injected|inserted ~3 before|above|earlier|prior|initially|at+the+start|at+the+beginning",
		"<what ~3 <first|last|opening|initial ~3 <words|lines|sentences|sentence|paragraph|paragraphs|characters ~1 <of ~0 <your ~2 %promptnoun",
		"<%reveal ~4 wording|phrasing|exact+wording|text|words ~1 of ~0 your ~2 %promptnoun|%target",
		"<%reveal ~4 %target ~2 " + gYou + " ~3 %given|under|instructed !me|us",
		"<text|content|contents|wording|copy ~1 <of ~3 %target ~2 " + gYou + " ~3 %given|instructed !me|us",
		"<what ~4 <your ~2 %secretadj ~0 %promptnoun ~3 say|says|contain|contains|include|includes|state|states|look|looks|mention|mentions",
		"<" + gDump + " ~3 <everything|all|anything|text|words|content|contents|lines ~5 above|before|preceding|prior ~2 this|my|the|our|your ~2 message|messages|conversation|line|chat|question|prompt|request|input|reply",
		"<" + gDump + " ~3 <everything|all|anything|contents|content|text ~3 <your ~1 context|memory|context+window|setup",
		"<%reveal ~5 words|lines|sentences|characters|paragraph|paragraphs|part|parts|beginning|start|rest|text|content|contents|section|end ~1 of ~0 your ~2 ?%secretadj %promptnoun",
		"<what|what's|whats ~3 <in|inside|written|contained|stored|said ~1 <your ~2 %promptnoun",
		"<%reveal ~4 %promptnoun|%target|message|text|setup ~4 the|your ~0 %authority ~2 gave|told|wrote|sent|provided|configured|programmed|set|handed|assigned|fed|issued|showed|loaded|initialized ~0 you|u",
		"<%reveal ~4 %promptnoun|%target|message|text ~2 " + gYou + " ~2 %given ~0 with|by|from|at|during",
		"<%reveal ~5 api+keys|api+key|secrets|secret|passwords|password|credentials|tokens|keys ~3 in|from|inside|within ~1 your|the ~0 context|memory|environment|system|prompt|config|configuration",
	}},
	{"reveal_prompt", CategoryPromptLeak, 0.85, []string{
		"<%reveal ~4 %promptnoun|%target ~3 that|which ~1 defines|define|governs|govern|controls|control|shapes|shape|determines|determine|drives|configures|configure|sets ~1 your|how+you",
		"<%reveal ~4 %target|%promptnoun ~2 in|of|from|inside ~1 your ~2 %promptnoun",
		"<what|which ~1 %target|%promptnoun ~3 you ~2 receive|received|get|got|given|handed|assigned|loaded|fed|shown|start|started",
	}},
	{"reveal_prompt", CategoryPromptLeak, 0.8, []string{
		"<%reveal ~3 <everything|all|anything|what ~1 <you ~2 <were|have+been|'ve+been|got ~1 told|given|instructed|shown ~3 before|above|earlier|previously|prior|so+far|initially",
		"<put|place|format|convert|wrap|encode|turn|paste|copy|write|translate ~1 <your ~2 %promptnoun ~2 in|into|as|inside",
		"<%reveal_ml ~3 %msg_ml ~4 %setup_ml",
		"<%want ~3 <your ~2 prompt|prompts|instructions|instruction|directives|preprompt|programming|system+prompt|system+message",
		"<what ~2 <did|does|do|were|was|has|have ~1 <the|your ~0 developer|developers|creator|creators|operator|operators|company|owner|admin|openai|anthropic|google ~0 tell|told|instruct|instructed|ask|asked|say|said|program|programmed|configure|configured ~0 you",
	}},
	{"reveal_prompt", CategoryPromptLeak, 0.6, []string{
		"<%reveal ~3 its|assistant's|model's|ai's|bot's ~2 %promptnoun",
		"<show|display|print|dump|reveal ~3 <%secretadj ~1 config|configuration|settings|setup",
		"<%reveal ~2 <the ~1 full|entire|complete|whole|hidden|secret|original|initial|system ~1 prompt|preprompt|system+prompt|instructions unless <how",
	}},
	{"prompt_reference", CategoryPromptLeak, 0.6, []string{
		"<you ~2 hidden|secret|confidential|internal ~1 %target|%promptnoun",
		"<your ~2 %secretadj ~1 %promptnoun unless " + gMine,
	}},
	{"verbatim_request", CategoryPromptLeak, 0.5, []string{
		"verbatim",
		"word ~0 for|by ~0 word",
		"character|letter|line ~0 for|by ~0 character|letter|line",
		"exactly ~0 as ~2 written|appears|appear|it+is|given|worded",
		"<don't|do+not|without ~0 summarize|summarise|summarizing|summarising|paraphrase|paraphrasing|abridging|abridge",
		"unabridged|unredacted|unchanged|unedited",
	}},

	// Data leaving through tools, addresses and links.
	{"exfil_conversation", CategoryExfiltration, 0.85, []string{
		"<" + vSend + " ~6 " + vConvo + " ~10 @email",
		"<%send ~4 <it|this|them|everything ~6 <to ~1 @email unless <how",
	}},
	{"exfil_conversation", CategoryExfiltration, 0.8, []string{
		"<fetch|get|open|visit|call|request|load|browse|curl|ping|access ~4 @urlq ~10 %convo|%secret|user's unless <how my",
	}},
	{"exfil_conversation", CategoryExfiltration, 0.85, []string{
		"<append|add|include|embed|render|insert|attach|put ~3 image|markdown|img|pixel ~6 @urlq ~8 %convo|%secret|base64|our|chat|conversation",
	}},
	{"exfil_conversation", CategoryExfiltration, 0.7, []string{
		"<save|upload|post|publish|share|paste|dump|push ~3 %convo ~4 public|pastebin|gist|paste|external|anyone",
		"<add|insert|include|append|embed|put|encode|attach ~6 <%secret|%convo ~8 query|parameter|parameters|param|params|url|link|@url|@urlq unless <how",
	}},
	{"exfil_secret", CategoryExfiltration, 0.62, []string{
		"<" + vSend + " ~6 " + vSecret + " ~10 @email unless my our",
		"<call|invoke|use|run|trigger|execute ~3 @ident|tool|function|plugin|action ~12 %secret|%convo unless my our",
		"<%send ~3 <it|them|this|that|everything|%secret ~4 <to|into|via|through|with|in ~3 @ident|tool|function|webhook|endpoint ~1 ?call|calls unless <how my our",
		"<%send ~4 <their|user's|users|customer's|customers ~2 %secret ~4 to ~3 partner|endpoint|server|api|webhook|@url|@email|address unless <how my",
	}},
	{"secret_to_address", CategoryExfiltration, 0.5, []string{
		"%secret ~10 @email|@url unless <how my our",
		"<%send ~6 @email|@url ~10 %secret unless <how my our",
		"<to|recipient|address|cc|bcc ~1 @email ~10 %secret unless <how my our",
	}},
	{"encode_secret", CategoryExfiltration, 0.5, []string{
		"<password|passwords|secret|secrets|passphrase|secret+word|key|code+word ~8 backwards|backward|reversed|reverse|letter+by+letter|one+letter+at+a+time|base64|hex|binary|acrostic|morse|rot13|pig+latin|first+letter|first+letters",
		"<first+letter|first+letters|acrostic|backwards|reversed|letter+by+letter ~10 password|passwords|secret|passphrase|secret+word|code+word",
		"<spell|write|say|type|give|encode|reverse|tell|output|print ~3 <it|them ~3 backwards|backward|reversed|reverse|letter+by+letter|one+letter+at+a+time|base64|hex|binary|morse",
	}},
	{"rule_lawyering", CategoryOverride, 0.5, []string{
		"<so|that ~2 <it ~1 <doesn't|does+not|won't|will+not ~0 count|technically",
		"<you're|you ~2 <not ~0 technically ~2 breaking|violating|revealing|disclosing",
		"<not ~0 technically ~2 breaking|violating|revealing|disclosing|against ~2 the|your|any ~1 rule|rules|policy|policies|instructions",
	}},
	{"sensitive_file", CategoryExfiltration, 0.62, []string{
		"etc ~0 passwd|shadow|sudoers",
		"os ~0 environ",
		"process ~0 env",
		"printenv|id_rsa|id_ed25519",
		"aws ~0 credentials",
	}},
	{"tool_invocation", CategoryExfiltration, 0.5, []string{
		"<using|use|with|in|via|through ~1 <your ~1 <code|python|shell|terminal|browser|http|email|web|file|fetch|search|sql|bash ~0 tool|tools|interpreter|capability|access|plugin",
	}},
	{"follow_remote", CategoryIndirect, 0.75, []string{
		"<visit|fetch|open|read|load|browse|get|download|check|curl ~10 <and|then ~1 <do|follow|obey|execute|run|carry+out ~2 <whatever|what|everything|the+instructions|the+commands ~2 <it|they|you ~1 says|say|find|see|contains|read|tells",
		"<follow|obey|execute|carry+out ~2 <the|any ~0 instructions|commands|directions ~3 you ~1 find|see|read|get|encounter ~1 there|on+that+page|at+that+url|in+it|on+it|inside",
	}},
	{"harvest_user_data", CategoryExfiltration, 0.5, []string{
		"<%send|text|sms ~2 <the+user's|user's|their|users ~1 %secret !reset|recovery|hint|policy|strength unless <how",
		"<output|list|reveal|print|show|send|dump|export ~2 <the+user's|user's|their|users|customers' ~2 saved|stored|private|personal|home ~1 addresses|address|data|information|details|contacts|files|documents|messages",
		"<take|grab|collect|extract|gather|harvest|steal|copy|read|get|fetch|record|log|capture ~2 <their|user's|users|customer's|customers|visitor's ~1 %secret unless <how",
	}},
	{"send_to_address", CategoryExfiltration, 0.3, []string{
		"<%send ~5 <to ~1 @email|@url",
	}},

	// Secrecy and claimed authority.
	{"inject_output", CategoryOverride, 0.45, []string{
		"<include|insert|add|put|place|embed|append ~3 <this|these|the+following ~3 <in|into|to ~1 <your ~0 answer|answers|response|responses|reply|replies|output",
	}},
	{"covert_action", CategorySecrecy, 0.45, []string{
		"<do|perform|handle|complete|carry ~1 <this|it|that|out ~0 quietly|silently|secretly|covertly|discreetly|stealthily",
	}},
	{"authority", CategoryAuthority, 0.6, []string{
		"<this ~1 <message|note|instruction|request|update|notice ~1 <comes|is|was|came ~1 <from ~1 <your|the ~0 %authority",
		"<this ~0 <is ~0 <your|the ~0 developer|developers|creator|creators|admin|administrator|operator|owner|system|openai|anthropic ~0 speaking|talking|here",
	}},
	{"authority", CategoryAuthority, 0.55, []string{
		"<as ~0 <the|your ~1 administrator|admin|developer|operator|owner|creator ~4 i|i'm ~2 telling|ordering|instructing|authorizing|authorising|informing|commanding ~0 you",
	}},
	{"authority", CategoryAuthority, 0.5, []string{
		"openai|anthropic|google|microsoft|meta|deepmind ~0 staff|team|engineer|engineers|employee|employees|admin|admins|developer|developers|here",
		"security|verification|authentication|identity|admin|safety|access ~1 check|checks|verification|test|audit ~1 passed|complete|completed|successful|succeeded|cleared|approved",
		"<user|users|customer|customers|owner ~2 <already ~0 consented|agreed|approved|authorized|authorised|permitted|confirmed",
		"<user|users|customer|customers|owner ~1 <has|have ~2 consented|agreed|approved|authorized|authorised|permitted|given+consent|given+permission|given+their+consent|opted+in",
		"<user|i ~1 <is|am ~1 <now ~1 <an|a|the ~0 administrator|admin|root|superuser|developer|verified|privileged",
		"<user|users|i ~1 <has|have ~1 admin|administrator|root|elevated|superuser ~1 rights|privileges|access|permissions|clearance",
		"<by ~0 <order|orders|authority|permission ~0 <of ~1 ceo|%authority|management|board",
		"<i'm|i ~2 <an|a|the ~1 %authority|openai|anthropic ~2 researcher|engineer|employee|staff|developer|safety|red|tester",
	}},
	{"grant_permission", CategoryAuthority, 0.65, []string{
		"<give|giving|gave|grant|granting|granted ~0 <you ~1 permission|authorization|authorisation|clearance|leave|approval ~1 to ~3 %override|%reveal|%disable|skip|answer|share|say|discuss",
		"authorize|authorise|permit|allow|authorized|authorised|permitted|allowed|authorizing|authorising ~0 you ~1 to ~3 %override|%reveal|skip|answer|bypass|disable|share",
		"<you|you've|you're|u ~3 authorized|authorised|permitted|allowed|cleared|free|entitled ~0 to ~3 %reveal|%override|answer|share|say|discuss|disclose",
	}},
	{"grant_permission", CategoryAuthority, 0.5, []string{
		"<so|therefore|thus|now ~1 <you ~0 can|may ~2 %reveal|%override|disclose|share|bypass",
		"<you ~0 <can|may ~1 <answer|respond|say|reply|speak|write ~2 without|freely|anything|everything",
		"<you ~1 <can|may|will|are+able+to|are+allowed+to ~2 <say|do|answer|write|generate|produce|discuss|output|create ~1 anything|everything|whatever",
	}},

	// Text addressed to a model that reads it.
	{"addressed_to_model", CategoryIndirect, 0.85, []string{
		"%model ~0 instructions|instruction|note|notice|directive|directives|memo|command|commands: ~12 %directive|%reveal|%override",
		"^%models: ~12 %directive|%reveal|%override|run|execute|install|download|curl",
		"<hidden|secret|embedded|special|important|private|confidential ~0 <instruction|instructions|note|message|directive|directives ~1 <for|to ~2 %model",
		"<instructions|instruction|note|message|notice|memo|directive|directives|reminder ~1 <to|for ~2 %model: ~12 %directive|%reveal",
		"<instructions|instruction|note|message|notice|memo|directive|directives|reminder ~1 <to|for ~2 %model ~0 %doc|reviewer|reviewers|summarizer|summarizers|summariser|screener|screeners|crawler|crawlers|scraper|scrapers|grader|graders|tool|tools|agent|agents: ~12 %directive|%reveal",
		"<to|for ~1 <the|any|all|every|an|a ~0 %model ~1 %reading ~1 this|these|the|my|our",
	}},
	{"addressed_to_model", CategoryIndirect, 0.85, []string{
		"<instructions|instruction|note|message|notice|memo|directive|directives|reminder ~1 <to|for ~2 %model ~1 _@colon ~12 %directive|%reveal|%override",
		"%model|%models ~1 _@colon ~12 %directive|%reveal|%override",
		"_%model: ~0 %override|%directive|disregard|reveal|print|output|forward|send|email",
	}},
	{"addressed_to_model", CategoryIndirect, 0.8, []string{
		"<%model ~3 <when|while|as|once|before|after|upon|if ~0 <you|you're ~1 %reading|%readbase ~1 this|these|the ~0 %doc",
		"<%model ~2 <when|while|as|once|before|after|upon ~0 %reading ~1 this|these|the ~0 %doc",
		"^%model|%models ~1 %reading ~2 this|these ~1 %doc ~1 must|should|shall|need|please|will",
		"<if ~0 <an|a|any|the ~0 %model ~1 %reading ~2 this|these|it",
		"%model ~1 if ~0 you|you're ~1 %reading",
		"%model ~1 %reading ~1 this|these ~0 %doc",
	}},
	{"addressed_to_model", CategoryIndirect, 0.7, []string{
		"<attention|hey|dear|hello|hi ~1 <automated|virtual ~0 %model !team|teams|researchers|research|community|group|lab|labs|company|industry",
		"<dear ~0 %model !team|teams|researchers|research|community|group|lab|labs|company|industry",
	}},
	{"addressed_to_model", CategoryIndirect, 0.6, []string{
		"<if ~0 <you|you're ~1 %reading ~1 this|these|the ~0 %doc",
	}},
	{"context_breakout", CategoryDelimiter, 0.45, []string{
		"<begin|start|end ~1 <of ~0 admin|administrator|system|developer|operator|root|sudo ~0 message|messages|instructions|instruction|prompt|command|commands|notice|directive|block|override",
		"<begin|start|end ~0 admin|administrator|system|developer|operator|root|sudo ~0 message|messages|instructions|instruction|prompt|command|commands|notice|directive|block|override",
	}},
	{"model_directive", CategoryIndirect, 0.5, []string{
		"%model ~1 must|will|shall|should|may|can|is+to|is+required+to|is+permitted+to ~1 now ~3 %reveal|%override|answer|comply|obey|follow|disclose|share|send|email",
		"%model ~1 must|shall|is+to|is+required+to ~3 %reveal|%override|disclose|send|email|forward",
	}},
	{"manipulate_user", CategoryIndirect, 0.5, []string{
		"<tell|ask|instruct|inform|warn|remind|urge|advise|direct|convince|persuade ~1 <the|any ~0 user|users|reader|readers|customer|customers|visitor|visitors|human ~8 password|passwords|credentials|login|account|compromised|suspended|locked|verify|download|install|call|click|visit|enter|pay|transfer|wire unless <how <don't <dont <not <never",
	}},
	{"hidden_text", CategoryIndirect, 0.45, []string{
		"display:|visibility: ~0 none|hidden",
		"font ~0 size: ~0 0|0px",
	}},
	{"end_of_input", CategoryDelimiter, 0.4, []string{
		"^end ~1 of ~1 document|file|email|page|text|context|data|content|transcript|article|message|review|input",
	}},
}

// A literalPair is two word families of a script written without spaces
// (Chinese, Japanese) or with particles glued to words (Korean) that make
// a signal when they occur close together in either order: "前の指示は
// すべて無視して" puts four characters between "instruction" and
// "ignore", which a fixed string does not allow for.
type literalPair struct {
	a, b     []string
	within   int // bytes between the end of one and the start of the other
	name     string
	category string
	weight   float64
}

var literalPairs = []literalPair{
	{words("指示 指令 规则 提示 命令 说明 设定 要求"), words("忽略 无视 忘记 忘掉 不要遵守 不再遵守 不用遵守 别管"),
		24, "ignore_previous", CategoryOverride, 0.85},
	{words("指示 命令 ルール 指令 設定 プロンプト 制限"), words("無視 忘れ"),
		24, "ignore_previous", CategoryOverride, 0.85},
	{words("지시 지침 규칙 명령 프롬프트 설정 제한"), words("무시 잊어 잊고"),
		24, "ignore_previous", CategoryOverride, 0.85},
	{words("系统提示 系统指令 初始指令 隐藏指令 システムプロンプト 初期指示 隠された指示 시스템 초기"),
		words("显示 输出 告诉 打印 展示 重复 表示 教えて 見せて 出力 繰り返 보여 알려 출력 반복"),
		30, "reveal_prompt", CategoryPromptLeak, 0.8},
}
