"""Personal computer and account security as minimal pairs: passwords and password managers, two-factor
logins, phishing emails, texts and calls, software updates, backups, public and home wifi, hijacked
accounts, and old or second-hand devices. Each triple is an ordinary person's question about protecting
their own accounts and devices, a correct answer and a subtly wrong answer written in the same sentence
frame and tone, differing only in the short span that carries the fact; the wrong answers are mistakes a
non-expert might believe, and nothing is about attacking anyone. All text was written for this project.
"""

from __future__ import annotations

PAIRS: tuple[tuple[str, str, str], ...] = (
    (
        "I'm setting up a password manager for the first time. What should my master password be like?",
        "Make it a long passphrase of four or more random words that you use nowhere else, and keep a written copy somewhere safe at home.",
        "Make it a long passphrase of four or more random words that you also use for your email, and keep a written copy somewhere safe at home.",
    ),
    (
        "I use the same very long password on every site I sign up to. Is that a problem?",
        "It is, because when one site is breached, that password will be tried on your other accounts, so give every site a different one.",
        "It isn't, because when one site is breached, a long password won't be tried on your other accounts, so give every site the same one.",
    ),
    (
        "Is a short password with letters swapped for symbols, like a zero for an o, stronger than four random words strung together?",
        "The passphrase wins, because cracking tools try common swaps like 0 for o first, while extra random words add real length.",
        "The short one wins, because cracking tools struggle with swaps like 0 for o, while extra random words add little length.",
    ),
    (
        "My bank offers two-factor login codes by text message or through an authenticator app. Which should I pick?",
        "Choose the authenticator app, because text codes can be redirected by a SIM-swap scam, while app codes stay on your phone.",
        "Choose text messages, because app codes can be redirected by a SIM-swap scam, while text codes stay on your phone.",
    ),
    (
        "I've just turned on two-factor login for my email. What should I do with the backup codes it gave me?",
        "Print them or save them in your password manager, so you can still get in if you lose your phone.",
        "Save them in a note inside that same email account, so you can still get in if you lose your phone.",
    ),
    (
        "I keep getting two-factor approval prompts on my phone that I didn't ask for. What does that mean?",
        "That usually means someone has your password, so deny every prompt and change the password today.",
        "That usually means a sync glitch, so approve one prompt to stop them and change the password today.",
    ),
    (
        "I got an email from my bank saying my account is locked and I need to click a link to verify my details. What should I do?",
        "Leave the link alone and log in through your bank's app instead; a real lock will show up there too.",
        "Follow the link and log in through the page it opens; a real lock will show up there too.",
    ),
    (
        "A website asking for my card details has a padlock in the address bar. Does that mean it's legitimate?",
        "No, a padlock means the connection is encrypted, which scam sites can get for free, so it doesn't prove who runs the site.",
        "Yes, a padlock means the owner was checked, which scam sites can't get for free, so it does prove who runs the site.",
    ),
    (
        "I got a text saying a parcel couldn't be delivered and I need to pay a small redelivery fee through a link. Is it real?",
        "It's almost certainly a scam, since couriers rarely charge redelivery fees through text links; check the courier's own site if you're"
        " expecting something.",
        "It's almost certainly genuine, since couriers often charge redelivery fees through text links; pay the fee through the link if you're"
        " expecting something.",
    ),
    (
        "I typed my email password into a page from a link that I now think was fake. What should I do first?",
        "Change your password on the real site right away, then check your email settings for forwarding rules you didn't set up.",
        "Run a full virus scan on your laptop right away, then check your email settings for forwarding rules you didn't set up.",
    ),
    (
        "Someone called saying they're from Microsoft and my computer is sending out errors. Should I install the program they want me to run?",
        "Hang up, since Microsoft doesn't phone people about errors, and the program would hand a stranger control of your computer.",
        "Go ahead, since Microsoft does phone people about errors, and the program would hand their technician control of your computer.",
    ),
    (
        "My laptop keeps nagging me to install updates. Can I put them off for a few months if everything works?",
        "Install them within a few days, because updates often fix security holes that are already being used against people.",
        "Install them every few months, because updates mostly add features and rarely fix holes that are already being used against people.",
    ),
    (
        "My old laptop still runs well but no longer gets security updates. Is it okay to keep using it for online banking?",
        "Move your banking to a supported device, since new security holes on that laptop will stay open and antivirus can't close them.",
        "Keep banking on it with antivirus installed, since new security holes on that laptop will stay open but antivirus can close them.",
    ),
    (
        "I'm selling my old phone online. What should I do before I hand it over to the buyer?",
        "Back it up, sign out of your accounts and then do a factory reset, so your data and logins don't go with it.",
        "Back it up, delete your photos and messages and then remove the SIM card, so your data and logins don't go with it.",
    ),
    (
        "I'm taking an old desktop computer to be recycled. Is deleting my files and emptying the recycle bin enough?",
        "No, because emptied files can still be recovered from the drive, so wipe it with an erase tool first.",
        "Yes, because emptied files can't be recovered from the drive, so skip wiping it with an erase tool first.",
    ),
    (
        "I keep all my family photos on my laptop and on a USB drive that's always plugged into it. Is that a good enough backup?",
        "Not on its own, because ransomware can scramble a drive that stays plugged in, so keep a separate copy unplugged.",
        "Yes, it is, because ransomware can't scramble a drive that stays plugged in, so that drive is a separate copy.",
    ),
    (
        "I've set up automatic backups for my work laptop. How do I know the backups actually work?",
        "Every few months, try restoring a few files from the backup, since that's the only real proof you can get them back.",
        "Every few months, check the backup's total file size, since that's the only real proof you can get them back.",
    ),
    (
        "I'm on hotel wifi. Will using my browser's private or incognito mode keep my logins safe from others on the network?",
        "No, private mode stops your browser saving history on your device, but it does nothing to hide your traffic from the network.",
        "Yes, private mode stops your browser saving history on your device, and it also hides your traffic from the network.",
    ),
    (
        "At the airport there are two open wifi networks with nearly the same name. Does it matter which one I join?",
        "It does, since anyone can give a hotspot the airport's name, so check the official signs for the exact one to join.",
        "It doesn't, since only the airport can give a hotspot the airport's name, so check for the strongest signal to join.",
    ),
    (
        "My friends are getting spam messages from my email account, but I can still log in. What should I do?",
        "Change the password, then look for forwarding rules and recovery addresses you didn't add, since a new password doesn't remove them.",
        "Change the password, and any forwarding rules and recovery addresses you didn't add will go too, since a new password removes them.",
    ),
    (
        "Someone took over my Instagram and changed the email and phone number on it. How do I get it back?",
        "Use the official recovery option on the login screen, and ignore people online who offer to get it back for a fee, since they're scammers.",
        "Use the official recovery option on the login screen, or pay one of the people online who offer to get it back for a fee, since they're"
        " quicker.",
    ),
    (
        "I have antivirus on my Windows laptop. Do I still need to be careful about where I download programs from?",
        "Yes, because antivirus often misses brand-new malware, so get programs from the maker's own site or an official store.",
        "Not really, because antivirus rarely misses brand-new malware, so get programs from whichever download site ranks first.",
    ),
    (
        "A shopping site wants me to set security questions like my mother's maiden name. Should I answer truthfully?",
        "Use made-up answers saved in your password manager, since true ones like a maiden name are often easy to find online.",
        "Use true answers so you'll remember them, since things like a maiden name are rarely easy to find online.",
    ),
    (
        "My home router's admin login is still the default one from the manual. Does that matter if my wifi has its own password?",
        "It does matter, because devices on your wifi, including a hacked one, can reach the admin page with those defaults.",
        "It doesn't matter, because devices on your wifi, including a hacked one, can't reach the admin page without a cable.",
    ),
    (
        "How can I tell where a link in an email really goes before I click it?",
        "Hover over it or long-press it to preview the address, then check that the company's real domain is at the"
        " end of the part before the first single slash.",
        "Hover over it or long-press it to preview the address, then check that the company's real domain appears"
        " anywhere in the part before the first single slash.",
    ),
    (
        "Someone from my bank called and asked me to read back the six-digit code they just texted me. Should I?",
        "No, hang up and call the number on your card, because a real bank won't ask you to read out a code it texted.",
        "Yes, read it out and then call the number on your card, because a real bank will ask you to read out a code it texted.",
    ),
    (
        "My boss emailed asking me to quickly buy gift cards for a client and send him the codes. Should I do it?",
        "Confirm it with him by phone first, since gift card requests by email are a common scam that copies a boss's name.",
        "Confirm it by replying to that email first, since gift card requests by email are a common scam that copies a boss's name.",
    ),
    (
        "Do I really need a passcode on my phone if I never let it out of my sight?",
        "Yes, set a passcode of at least six digits that isn't your birthday, since a lost phone opens the door to your email and banking.",
        "Yes, set a passcode of four digits such as your birthday, since a lost phone opens the door to your email and banking.",
    ),
    (
        "A pop-up in my browser says my computer is infected and tells me to call a support number right away. What should I do?",
        "Close the browser without calling, because genuine virus warnings from your computer don't come with a phone number to ring.",
        "Ring the number before closing the browser, because genuine virus warnings from your computer do come with a phone number to ring.",
    ),
    (
        "A supplier I deal with sent an unexpected invoice as a Word file that asks me to enable macros. Should I?",
        "Leave macros off and phone the supplier first, because a real supplier's email account can be hijacked to send malware like this.",
        "Turn macros on if the address is the supplier's, because a real supplier's email account can't be hijacked to send malware like this.",
    ),
    (
        "A free flashlight app on my phone wants access to my contacts and location. Should I allow it?",
        "Deny those permissions, since a flashlight app doesn't use your contacts or location and may be selling that data.",
        "Allow those permissions, since a flashlight app often uses your contacts or location and may not work without that data.",
    ),
    (
        "I want to tighten up my online security bit by bit. Which account should I protect first with two-factor login?",
        "Start with your main email account, since whoever gets into it can reset your passwords for almost everything else, banking included.",
        "Start with your social media accounts, since whoever gets into them can reset your passwords for almost everything else, banking included.",
    ),
    (
        "My email account's recovery phone number is an old number I gave up years ago. Does that matter?",
        "Yes, update it today, because phone companies reissue old numbers, so a stranger could receive your account's reset codes.",
        "No, leave it as it is, because phone companies retire old numbers, so no stranger could receive your account's reset codes.",
    ),
    (
        "I just installed a cheap wifi security camera in my living room. Is there anything I should set up for security?",
        "Change its default login and turn on firmware updates, because cameras left on factory settings are easy for strangers to get into.",
        "Keep its default login and skip firmware updates, because cameras on a home wifi network are hard for strangers to get into.",
    ),
    (
        "A website told me my browser is out of date and offered a download to update it. Should I install it?",
        "Skip that download and update from the browser's own settings menu, because sites offering browser updates usually pass along malware"
        " instead.",
        "Take that download, then double-check in the browser's own settings menu, because sites offering browser updates usually pass along the"
        " official installer.",
    ),
    (
        "I found a USB stick in the car park at work. Should I plug it into my computer to see who it belongs to?",
        "Hand it to IT unopened, because an unknown stick can run malware the moment it's connected, and antivirus won't always stop it.",
        "Plug it in with antivirus running, because an unknown stick can run malware the moment it's connected, and antivirus will always stop it.",
    ),
    (
        "I'm setting up a new router at home. What should I do to keep neighbours off my wifi?",
        "Use WPA2 or WPA3 with a long passphrase, since it's the encryption that keeps outsiders off your network.",
        "Use a hidden network name with a short passphrase, since it's the hidden name that keeps outsiders off your network.",
    ),
    (
        "I keep all my passwords in a notes file called 'passwords' on my desktop. Is that okay?",
        "Move them into a password manager, because a plain notes file can be read by any malware that gets onto the computer.",
        "Move them into a hidden folder, because a plain notes file there can't be read by malware that gets onto the computer.",
    ),
    (
        "I have lots of old online accounts I don't use anymore. Is it worth closing them?",
        "Close the ones you don't need, since forgotten accounts can still leak your details or stored card in a breach.",
        "Leave the ones you don't need, since forgotten accounts get deleted and can't leak your details or stored card in a breach.",
    ),
    (
        "I checked my email on a computer in the hotel lobby. What should I do before walking away?",
        "Sign out of your email first, because closing the tab alone doesn't end your session before the next guest sits down.",
        "Close the email tab and go, because closing the tab alone ends your session before the next guest sits down.",
    ),
)
